"""Data layer: targets (presets, prior draws, fixed times, recordings) and the spiking front
end's input trains. Imports the simulation layer and the bottom modules only."""
