"""The one declaration of every rating field and every table column.

Everything that shows, writes or compares a rating or a column reads it from here:
the Ratings and Adjudication widgets (titles, buttons, keys), the lesion table and
its CSV export (units, decimals), the agreement report (titles, value labels), the
adjudication queue (which fields readers must agree on, which image each is read
on), and the README's tables (a test checks them against this module).

The declarations are read at call time through this module's attributes
(``fields.RATINGS``, ``fields.COLUMNS``), never copied into constants elsewhere,
so a field added to :data:`RATINGS` shows up everywhere at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property

__all__ = [
    "CLASSES",
    "COLUMNS",
    "COMMENT",
    "LESION_CLASS",
    "NA",
    "OUTLINE_NOTE",
    "PATIENT_GROUP",
    "RATINGS",
    "Choice",
    "Column",
    "RatingField",
    "RatingSpec",
    "column",
]

#: The not-applicable rating value in memory (CSV files write it ``not applicable``).
NA = "n/a"
#: The free-text field every rating has besides :data:`RATINGS`.
COMMENT = "comment"


@dataclass(frozen=True)
class Choice:
    """One value of a rating field: stored value, the label shown and its key."""

    value: str
    label: str = ""
    key: str = ""

    @property
    def shown(self) -> str:
        """The label shown for the value (the value itself unless a label is given)."""
        return self.label or self.value


@dataclass(frozen=True)
class RatingField:
    """A rating field: what a reader chooses for each lesion.

    Attributes
    ----------
    name : str
        Column name in tables, CSV files and the store.
    title, short : str
        Title in panels and reports; short title for narrow tables.
    choices : tuple of Choice
        The values, in display order, with their labels and keys.
    positive : tuple of str
        Values that mean "present" / "enhancing" (USPIO+, Gd+, rim present, ...).
    required : bool
        Needed for a lesion to count as rated.
    compared : bool
        Compared between readers by the agreement statistics.
    disputed : bool
        Readers must agree on it for a lesion to go straight to consensus.
    read_on : str or None
        The role the field is read on (the evidence image when it is disputed).
    description : str
        One sentence for tooltips and the README.
    """

    name: str
    title: str
    short: str
    choices: tuple[Choice, ...]
    positive: tuple[str, ...] = ()
    required: bool = False
    compared: bool = True
    disputed: bool = True
    read_on: str | None = None
    description: str = ""

    @property
    def values(self) -> tuple[str, ...]:
        """The stored values, in display order."""
        return tuple(c.value for c in self.choices)

    def label(self, value: object) -> str:
        """The label shown for a value (unknown values are shown as they are)."""
        return next((c.shown for c in self.choices if c.value == value), str(value))


@dataclass(frozen=True)
class RatingSpec:
    """The rating fields of a reading, in column order."""

    fields: tuple[RatingField, ...]

    def __iter__(self) -> Iterator[RatingField]:
        return iter(self.fields)

    def __getitem__(self, name: str) -> RatingField:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"no rating field {name!r}; fields: {', '.join(self.names)}")

    def __contains__(self, name: object) -> bool:
        return any(f.name == name for f in self.fields)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Names of the chosen fields (without :data:`COMMENT`)."""
        return tuple(f.name for f in self.fields)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """Every rating column: the fields, then :data:`COMMENT`."""
        return (*self.names, COMMENT)

    @cached_property
    def vocabulary(self) -> dict[str, tuple[str, ...]]:
        """Field name -> allowed values."""
        return {f.name: f.values for f in self.fields}

    @cached_property
    def required(self) -> tuple[str, ...]:
        """Fields needed for a lesion to count as rated."""
        return tuple(f.name for f in self.fields if f.required)

    @cached_property
    def compared(self) -> tuple[str, ...]:
        """Fields the agreement statistics compare."""
        return tuple(f.name for f in self.fields if f.compared)

    @cached_property
    def disputed(self) -> tuple[str, ...]:
        """Fields readers must agree on for consensus without adjudication."""
        return tuple(f.name for f in self.fields if f.disputed)

    @cached_property
    def not_applicable(self) -> tuple[str, ...]:
        """Fields that can be rated :data:`NA`."""
        return tuple(f.name for f in self.fields if NA in f.values)

    def with_field(self, field: RatingField) -> RatingSpec:
        """A spec with ``field`` appended (or replacing the field of its name)."""
        kept = tuple(f for f in self.fields if f.name != field.name)
        return replace(self, fields=(*kept, field))


def _choices(*items: tuple[str, str, str]) -> tuple[Choice, ...]:
    return tuple(Choice(value, label, key) for value, label, key in items)


#: The rating fields of napari-uspio (seed 000 and seed 004 reading protocols).
RATINGS = RatingSpec(
    (
        RatingField(
            "gd", "Gd enhancement", "Gd",
            _choices(("none", "", "Q"), ("nodular", "", "W"), ("shell", "", "E")),
            positive=("nodular", "shell"), required=True, read_on="t1_post_gd",
            description="Gadolinium enhancement on post-Gd T1: none, nodular (solid) or shell "
            "(ring at the edge).",
        ),
        RatingField(
            "uspio", "USPIO enhancement", "USPIO",
            _choices(
                ("none", "", "A"), ("ring", "ring-like", "S"), ("focal", "", "D"),
                ("iso", "return to iso", "F"),
            ),
            positive=("ring", "focal", "iso"), required=True, read_on="t1_post_uspio",
            description="USPIO pattern on T1 24 h after USPIO: none, ring-like, focal, or "
            "return to iso-intensity of a lesion hypointense before USPIO.",
        ),
        RatingField(
            "qsm_rim", "QSM rim", "QSM rim",
            _choices(("present", "", "R"), ("absent", "", "T")),
            positive=("present",), required=True, read_on="qsm",
            description="A hyperintense (paramagnetic) rim at the lesion edge on QSM.",
        ),
        RatingField(
            "central_vein", "Central vein", "Central vein",
            _choices(("present", "", "V"), ("absent", "", "B")),
            positive=("present",), required=True, read_on="t2star",
            description="A vein running through the lesion centre (T2*, QSM).",
        ),
        RatingField(
            "overlap", "USPIO-Gd overlap", "Overlap",
            _choices(
                ("<20%", "< 20 %", "7"), ("20-80%", "20-80 %", "8"), (">80%", "> 80 %", "9"),
                (NA, "", "0"),
            ),
            positive=("<20%", "20-80%", ">80%"), read_on="t1_post_uspio",
            description="Share of the lesion volume where USPIO and Gd enhancement overlap; "
            "rated when both enhance, n/a otherwise.",
        ),
        RatingField(
            "black_hole", "T1 black hole", "Black hole",
            _choices(("yes", "", "H"), ("no", "", "J"), (NA, "", "K")),
            positive=("yes",), compared=False, read_on="t1_pre_gd",
            description="T1-hypointense lesion persisting at follow-up (n/a at baseline).",
        ),
        RatingField(
            "confidence", "Confidence", "Confidence",
            _choices(("low", "", "Z"), ("medium", "", "X"), ("high", "", "C")),
            required=True, compared=False, disputed=False,
            description="The reader's confidence in this lesion's ratings.",
        ),
    )
)  # fmt: skip

#: Lesion classes, derived from Gd and USPIO (never typed).
CLASSES: tuple[str, ...] = ("USPIO+/Gd+", "USPIO-/Gd+", "USPIO-/Gd-", "USPIO+/Gd-")
#: The derived lesion class, compared between readers like a rating field.
LESION_CLASS = RatingField(
    "lesion_class", "Lesion class", "Lesion class", _choices(*((c, "", "") for c in CLASSES)),
    positive=("USPIO+/Gd+", "USPIO+/Gd-"), disputed=False,
    description="USPIO+ is any USPIO pattern, Gd+ is nodular or shell enhancement.",
)  # fmt: skip
#: The derived patient group: UEL, GEL, NEL.
PATIENT_GROUP = RatingField(
    "patient_group", "Patient group", "Patient group",
    _choices(("UEL", "", ""), ("GEL", "", ""), ("NEL", "", "")), disputed=False,
    description="UEL: a USPIO-enhancing lesion; GEL: Gd-enhancing lesions only; NEL: no "
    "enhancing lesion.",
)  # fmt: skip


def derived_or_rating(name: str) -> RatingField:
    """The rating field, or the derived lesion class / patient group, of a name."""
    if name == LESION_CLASS.name:
        return LESION_CLASS
    if name == PATIENT_GROUP.name:
        return PATIENT_GROUP
    return RATINGS[name]


@dataclass(frozen=True)
class Column:
    """A column of the lesion table, the patient summary or an export.

    ``unit`` is written in tables and provenance (``""``: a plain number or text),
    ``decimals`` the digits shown in the desk's tables (None: not a number),
    ``label`` its short name in the selected lesion's summary and the desk's
    compact table (``""``: not shown there), ``signed`` whether the summary shows
    a sign, ``outline`` whether the value depends on the outline drawn (it
    averages over the lesion's voxels or its NAWM shell, built around it).
    """

    name: str
    unit: str
    description: str
    decimals: int | None = None
    label: str = ""
    signed: bool = False
    outline: bool = False

    @property
    def tooltip(self) -> str:
        """The column's definition for a tooltip, with its unit and the outline caveat."""
        text = (
            f"{self.name} ({self.unit}): {self.description}"
            if self.unit
            else (f"{self.name}: {self.description}")
        )
        return text.replace("`", "") + (OUTLINE_NOTE if self.outline else "")

    @property
    def unit_text(self) -> str:
        """``unit: description`` (the provenance record of a column)."""
        return f"{self.unit}: {self.description}" if self.unit else self.description

    def format(self, value: float) -> str:
        """The value with the column's decimals, sign and unit (``+12.3 ppb``)."""
        sign = "+" if self.signed else ""
        text = f"{value:{sign}.{self.decimals or 0}f}"
        return f"{text} {self.unit}" if self.unit and self.unit != "fraction" else text


#: Said in the tooltip of every value that depends on the outline.
OUTLINE_NOTE = ". Depends on the outline drawn: redraw the lesion and it changes."
_ENH = (
    "`100 * ((post_lesion / post_shell) / (pre_lesion / pre_shell) - 1)` on `t1_pre_{0}` / "
    "`t1_post_{0}`"
)
#: Every column the lesion table, the patient summary and the exports may hold.
COLUMNS: dict[str, Column] = {c.name: c for c in (
    Column("case", "", "case id (or the code shown to the reader)"),
    Column("reader", "", "reader id"),
    Column("lesion", "", "label id > 0 (the DataFrame index; `index` in `layer.features`)", 0),
    Column("voxels", "", "voxels holding the id", decimals=0),
    Column("volume_mm3", "mm³", "voxels x voxel volume", 0, "volume"),
    Column("x_mm", "mm", "centroid in world RAS+ mm (mean voxel index through the true affine, "
           "exact for oblique cases)", 1),
    Column("y_mm", "mm", "the same, y (anterior)", 1),
    Column("z_mm", "mm", "the same, z (superior)", 1),
    Column("mtr_mean", "fraction", "mean MTR over the lesion, MTR = (M0 - Mmt) / M0", 3, "MTR",
           outline=True),
    Column("mtr_sd", "fraction", "sample SD (ddof 1) of MTR over the lesion", 3),
    Column("qsm_mean_ppb", "ppb", "mean susceptibility over the lesion", 1, outline=True),
    Column("qsm_nawm_ppb", "ppb", "mean susceptibility over the lesion's NAWM shell", 1,
           outline=True),
    Column("qsm_rel_ppb", "ppb", "`qsm_mean_ppb - qsm_nawm_ppb` (the number seed 004 reports)", 1,
           "QSM vs NAWM", True, True),
    Column("qsm_rim_ppb", "ppb",
           "mean over the lesion's edge voxels minus mean over its core voxels", 1,
           "QSM edge − core", True, True),
    Column("uspio_enh_pct", "%", _ENH.format("uspio"), 0, "USPIO enh.", True, True),
    Column("gd_enh_pct", "%", _ENH.format("gd"), 0, "Gd enh.", True, True),
    Column("r2star_mean", "s⁻¹", "mean R2* over the lesion", 1),
    Column("dr2star_mean", "s⁻¹", "mean of `dr2star = r2star_post - r2star` over the lesion", 1,
           "ΔR2*", True, True),
    Column("rated", "", "every required rating is set (True / False)"),
    Column("group", "", "patient group UEL / GEL / NEL; empty while unrated lesions could "
           "change it"),
    Column("n_lesions", "", "lesions in the reading", 0),
    Column("n_rated", "", "lesions with every required rating set", 0),
    Column("lesion_load_cm3", "cm³", "sum of the lesion volumes", 2),
    Column("nawm_mtr", "fraction", "mean MTR inside the white-matter mask outside every "
           "lesion", 3),
    Column("gm_mtr", "fraction", "mean MTR inside the grey-matter mask (role gm_mask) outside "
           "every lesion", 3),
    Column("shell_width_mm", "mm", "width of the NAWM shell around each lesion", 1),
    Column("code", "", "the case code the reader saw"),
    Column("repeat", "", "the reader's repeated (blinded) reading of the case"),
    Column("status", "", "reading status: open or done"),
    Column("reading_s", "s", "time the reader spent on the lesion (summary: on the case)", 0),
    Column("reference_added_voxels", "", "voxels the reader added to the reference lesion "
           "(reference studies)", 0),
    Column("reference_removed_voxels", "", "voxels the reader removed from it", 0),
    Column("origin", "", "accepted, accepted-and-edited or own (candidates studies)"),
    Column("candidates_accepted", "", "candidates the reader accepted (summary)", 0),
    Column("candidates_rejected", "", "candidates the reader rejected (summary)", 0),
    Column("candidates_untouched", "", "candidates neither accepted nor rejected (summary)", 0),
    Column("lesions_edited", "", "reference lesions the reader kept and edited", 0),
    Column("lesions_added", "", "lesions the reader painted that the reference does not hold", 0),
    Column("lesions_removed", "", "reference lesions the reader erased", 0),
    Column("lesions_accepted", "", "lesions accepted from a candidate and left as proposed", 0),
    Column("lesions_accepted_and_edited", "", "lesions accepted from a candidate, then edited",
           0),
    Column("lesions_own", "", "lesions the reader painted without a candidate", 0),
    Column("consensus", "", "agreed, adjudicated or pending"),
    Column("item", "", "adjudication item: the lesion group across readers", 0),
    Column("readers_detected", "", "readers who found the lesion, e.g. 2 of 3"),
)}  # fmt: skip


def column(name: str) -> Column:
    """The declaration of a column: declared, a rating field, or a count (``n_...``)."""
    if name in COLUMNS:
        return COLUMNS[name]
    if name == COMMENT:
        return Column(name, "", "the reader's free-text comment")
    if name in RATINGS or name == LESION_CLASS.name:
        field = derived_or_rating(name)
        return Column(name, "", f"{field.title}: {', '.join(field.values)}")
    if name.startswith("n_"):
        return Column(name, "", f"lesions counted as {name[2:].replace('_', ' ')}", 0)
    raise KeyError(f"no column {name!r} is declared in napari_uspio.core.fields")
