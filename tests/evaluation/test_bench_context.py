"""`bench_context --queries`: a question in another script than the sources is searched with
the translation an eval run recorded, read from its records file or from its log."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.bench_context import recorded_queries


def test_recorded_queries_come_from_a_records_file_or_an_eval_log(tmp_path: Path) -> None:
    record = {"id": "dev-zh-01", "queries": ["lru_cache default maxsize", "缓存"]}
    records = tmp_path / "records.jsonl"
    records.write_text(
        json.dumps(record, ensure_ascii=False) + "\n" + json.dumps({"id": "x", "queries": []})
    )
    log = tmp_path / "eval-all.log"
    log.write_text(
        "indexing 12/12 pages\n"
        f"INFO evaluation.runner: eval record {json.dumps(record, ensure_ascii=False)}\n"
    )
    assert recorded_queries(records) == {"dev-zh-01": "lru_cache default maxsize"}
    assert recorded_queries(log) == {"dev-zh-01": "lru_cache default maxsize"}
