"""Evaluation: run a question set through the agent and score it.

    questions = load_questions(Path("dev.jsonl"))          # dataset.py: the jsonl format
    records = run_eval(settings, questions, corpus_dir)    # runner.py: serve, index, ask
    summary = summarize([r.score for r in records])        # metrics.py: pure functions
    write_report(Path("report"), records, summary)         # report.py: Markdown + PNG plots

`baseline.py` is the InfiniWebSearch pipeline, for the side-by-side benchmark only.
"""
