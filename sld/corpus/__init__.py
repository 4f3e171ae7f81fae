"""The curated scaling-law tasks and user-supplied tasks: cards, splits, validation slices.

Only numpy, pandas and pydantic are imported here, so ``import sld.corpus`` stays fast.
"""

from sld.corpus.card import (
    BuildSpec as BuildSpec,
)
from sld.corpus.card import (
    Counts as Counts,
)
from sld.corpus.card import (
    Source as Source,
)
from sld.corpus.card import (
    SplitRule as SplitRule,
)
from sld.corpus.card import (
    TaskCard as TaskCard,
)
from sld.corpus.card import (
    ValidationRule as ValidationRule,
)
from sld.corpus.card import (
    Variable as Variable,
)
from sld.corpus.load import is_curated as is_curated
from sld.corpus.load import list_tasks as list_tasks
from sld.corpus.load import load_card as load_card
from sld.corpus.load import load_task as load_task
from sld.corpus.options import DATA_OPTIONS as DATA_OPTIONS
from sld.corpus.options import DataOption as DataOption
from sld.corpus.options import Naming as Naming
from sld.corpus.options import direction as direction
from sld.corpus.rules import Rule as Rule
from sld.corpus.rules import parse_rule as parse_rule
from sld.corpus.task import Fold as Fold
from sld.corpus.task import Split as Split
from sld.corpus.task import Task as Task

__all__ = [
    "DATA_OPTIONS",
    "BuildSpec",
    "Counts",
    "DataOption",
    "Naming",
    "Fold",
    "Rule",
    "Source",
    "Split",
    "SplitRule",
    "Task",
    "TaskCard",
    "ValidationRule",
    "Variable",
    "direction",
    "is_curated",
    "list_tasks",
    "load_card",
    "load_task",
    "parse_rule",
]
