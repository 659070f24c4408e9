"""Multi-rater labeling studies: sessions, the portable pack, ingesting answers, consensus and agreement reports.

- :mod:`~core.study.consensus`: per-item consensus (threshold, success) and the raters' attention check.
- :mod:`~core.study.answers`: the answers-file formats (in-app and study pack; read, validate, write).
- :mod:`~core.study.plan`: the organiser's plan of a blind pack (position -> item or control digit).
- :mod:`~core.study.agreement`: Krippendorff's α and Fleiss' κ of the raters (maintained libraries).
- :mod:`~core.study.session`: seeded mixing with clean test digits, timing, pause/resume (Qt-free).
- :mod:`~core.study.pack`: the offline browser pack (``invariance study pack``).
- :mod:`~core.study.ingest`: merging answers into collections (``invariance study ingest``).
- :mod:`~core.study.report`: Table 1, Table 2, Figure 6 and certified breaks (``invariance evaluate``).
"""

from core.study.agreement import AgreementStats, agreement_stats
from core.study.answers import (
    AnswersFile,
    PackAnswers,
    Trial,
    TrialRef,
    read_answers,
    read_any_answers,
    write_answers,
)
from core.study.consensus import (
    DEFAULT_MIN_RATER_ACCURACY,
    DEFAULT_THRESHOLD,
    Consensus,
    RaterCheck,
    item_consensus,
    rater_checks,
)
from core.study.ingest import IngestSummary, ingest, rater_clean_counts
from core.study.pack import pack_id_of, pack_plan, write_pack
from core.study.plan import StudyPlan, find_plan
from core.study.report import Agreement, Report, build_report, evaluate
from core.study.session import StudyImages, StudySession, plan_trials, session_state_path
from core.study.sets import StudyItem, load_items

__all__ = [
    "DEFAULT_MIN_RATER_ACCURACY",
    "DEFAULT_THRESHOLD",
    "Agreement",
    "AgreementStats",
    "AnswersFile",
    "Consensus",
    "IngestSummary",
    "PackAnswers",
    "RaterCheck",
    "Report",
    "StudyImages",
    "StudyItem",
    "StudyPlan",
    "StudySession",
    "Trial",
    "TrialRef",
    "agreement_stats",
    "build_report",
    "evaluate",
    "find_plan",
    "ingest",
    "item_consensus",
    "load_items",
    "pack_id_of",
    "pack_plan",
    "plan_trials",
    "rater_checks",
    "rater_clean_counts",
    "read_answers",
    "read_any_answers",
    "session_state_path",
    "write_answers",
    "write_pack",
]
