"""Multi-rater labeling studies: sessions, the portable pack, ingesting answers, consensus and agreement reports.

- :mod:`~core.study.consensus`: per-item consensus (threshold, success) and the raters' attention check.
- :mod:`~core.study.answers`: the answers-file format (read, validate, write without overwriting).
- :mod:`~core.study.session`: seeded mixing with clean test digits, timing, pause/resume (Qt-free).
- :mod:`~core.study.pack`: the offline browser pack (``invariance study pack``).
- :mod:`~core.study.ingest`: merging answers into collections (``invariance study ingest``).
- :mod:`~core.study.report`: Table 1, Table 2, Figure 6 and certified breaks (``invariance evaluate``).
"""

from core.study.answers import AnswersFile, Trial, TrialRef, read_answers, write_answers
from core.study.consensus import DEFAULT_THRESHOLD, Consensus, RaterCheck, item_consensus, rater_checks
from core.study.ingest import IngestSummary, ingest, rater_clean_counts
from core.study.pack import write_pack
from core.study.report import Agreement, ModelInfo, Report, build_report, evaluate
from core.study.session import StudyImages, StudySession, plan_trials, session_state_path
from core.study.sets import StudyItem, load_items

__all__ = [
    "DEFAULT_THRESHOLD",
    "Agreement",
    "AnswersFile",
    "Consensus",
    "IngestSummary",
    "ModelInfo",
    "RaterCheck",
    "Report",
    "StudyImages",
    "StudyItem",
    "StudySession",
    "Trial",
    "TrialRef",
    "build_report",
    "evaluate",
    "ingest",
    "item_consensus",
    "load_items",
    "plan_trials",
    "rater_checks",
    "rater_clean_counts",
    "read_answers",
    "session_state_path",
    "write_answers",
    "write_pack",
]
