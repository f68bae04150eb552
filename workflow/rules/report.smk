# Report notebooks (reports/*.py, jupytext percent format): converted to .ipynb with the
# python3 kernel, executed by papermill with the table paths as parameters, rendered to HTML
# without code. Everything is written under a temporary name and moved into place last.


rule report:
    input:
        notebook="reports/{question}.py",
        fits=TABLES["fits"],
        heldout=TABLES["heldout"],
        summary=f"{RESULTS}/tables/summary_{{question}}.csv",
        curves=TABLES["loss_curves"],
        answers=f"{RESULTS}/reports/answers.json",
        figures=figure_files(),
    output:
        html=f"{RESULTS}/reports/{{question}}.html",
        ipynb=f"{RESULTS}/reports/{{question}}.ipynb",
    log:
        f"{RESULTS}/logs/report/{{question}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rules/report/{{question}}.tsv"
    wildcard_constraints:
        question="|".join(QUESTIONS),
    conda:
        "../envs/snnfit.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        figures_dir=lambda w, input: os.path.dirname(input.figures[0]),
        tmp=f"{RESULTS}/reports/.tmp-{{question}}",
    shell:
        "(rm -rf {params.tmp} && mkdir -p {params.tmp}"
        " && jupytext --to ipynb --set-kernel python3"
        " -o {params.tmp}/in.ipynb {input.notebook}"
        " && papermill -k python3 --cwd . {params.tmp}/in.ipynb {params.tmp}/out.ipynb"
        " -p fits_csv {input.fits} -p heldout_csv {input.heldout}"
        " -p summary_csv {input.summary} -p curves_csv {input.curves}"
        " -p answers_json {input.answers} -p figures_dir {params.figures_dir}"
        " && jupyter nbconvert --to html --no-input"
        " --output-dir {params.tmp} --output out {params.tmp}/out.ipynb"
        " && mv {params.tmp}/out.ipynb {output.ipynb}"
        " && mv {params.tmp}/out.html {output.html}"
        " && rm -rf {params.tmp}) > {log} 2>&1"
