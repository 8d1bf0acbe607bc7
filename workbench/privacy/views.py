"""Privacy results as tables for notebooks 01 and 06 (no run directory, no computation of risk)."""

from __future__ import annotations

import html

import pandas as pd

from ._defaults import DEFAULTS

__all__ = ["consent_table", "data_methodology_markdown", "disclosure_view", "methodology_page", "minimisation_summary",
           "provenance_table", "release_methodology_markdown"]


def _reason(row) -> str:
    if row["kept"]:
        if str(row["purpose_or_reason"]).startswith("consent for a purpose"):
            return "kept: consent flag for per-action use"
        return "kept: declared purpose"
    text = str(row["purpose_or_reason"])
    if text.startswith("direct identifier"):
        return "dropped: direct identifier"
    if text.startswith("used to exclude"):
        return "dropped: consent flag, applied then dropped"
    return "dropped: no declared purpose"


def minimisation_summary(inventory_table: pd.DataFrame) -> pd.DataFrame:
    """Counts of input columns kept and dropped, by reason (from :func:`inventory`).

    Parameters
    ----------
    inventory_table : DataFrame
        The output of :func:`workbench.privacy.inventory`.

    Returns
    -------
    DataFrame
        ``outcome``, ``columns`` (how many), ``which`` (their names), sorted by outcome.
    """
    reasons = inventory_table.apply(_reason, axis=1) if len(inventory_table) else pd.Series([], dtype=str)
    out = reasons.value_counts().rename_axis("outcome").rename("columns").reset_index()
    cols = inventory_table.groupby(reasons)["column"].apply(lambda c: ", ".join(map(str, c))) if len(inventory_table) else {}
    out["which"] = out["outcome"].map(cols)
    return out.sort_values("outcome").reset_index(drop=True)


def provenance_table(provenance: dict, inventory_table: pd.DataFrame) -> pd.DataFrame:
    """Which consent snapshot and erasure list a run used: their keyed fingerprints, or why none.

    Parameters
    ----------
    provenance : dict
        The manifest's ``dataset`` part (``consent_snapshot_hmac_sha256``,
        ``erasure_list_hmac_sha256``, ``pseudonym_key_origin``).
    inventory_table : DataFrame
        The input-column inventory (says whether a consent flag was declared).

    Returns
    -------
    DataFrame
        ``record``, ``hash``.
    """
    random_key = provenance.get("pseudonym_key_origin", "random") == "random"
    no_key = "not recorded: the pseudonym key is random for this run, so no one could check a keyed hash"

    def shown(value, present: bool, absent: str) -> str:
        if not present:
            return absent
        return value or (no_key if random_key else "not recorded")

    has_consent = bool(len(inventory_table)) and bool(inventory_table["role"].str.contains("consent").any())
    return pd.DataFrame({
        "record": ["consent snapshot (HMAC-SHA256 under the pseudonym key)",
                   "erasure list (HMAC-SHA256 under the pseudonym key)"],
        "hash": [
            shown(provenance.get("consent_snapshot_hmac_sha256"), has_consent, "no consent flag declared"),
            shown(provenance.get("erasure_list_hmac_sha256"), bool(provenance.get("erasure_list_given")),
                  "no erasure list given"),
        ],
    })


def _html_table(rows: list[dict], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(r.get(c)))}</td>" for c in columns) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def who_is_protected(fit_share: float, epsilon: float) -> list[tuple[str, str]]:
    """Who the release's guarantee covers and who it does not, in words (heading, text).

    Parameters
    ----------
    fit_share : float
        The share of customers the release's segments were fitted on (0: given labels, all released).
    epsilon : float
        The release's epsilon.

    Returns
    -------
    list of (str, str)
    """
    if not fit_share:
        return [("Who is protected",
                 f"Every customer is counted in the release: each released figure is almost equally likely (within "
                 f"a factor e^{epsilon:g}) whether or not any one customer is in the data, whatever their values."),
                ("Who is not",
                 "The segments are the given labels, treated as public. The guarantee holds given those labels; it "
                 "says nothing about how they were assigned, which used the customers' own data outside this "
                 "workbench.")]
    return [
        ("Who is protected",
         f"Every customer counted in the release (about {1 - fit_share:.0%} of the customers after consent and "
         f"erasure): each released figure is almost equally likely (within a factor e^{epsilon:g}) whether or not "
         "that customer is in the data, whatever their values. Whether a customer is released, and the segments "
         "the others fall in, depend on no released customer."),
        ("Who is not protected",
         f"The customers of the fit sample (about {fit_share:.0%}, chosen by a keyed hash of each customer's "
         "pseudonym). They are not counted, but their data set the segment centroids, which decide the segment "
         "every released customer is counted in: adding, removing or changing one of them can move the centroids "
         "and change released counts by more than one. The release gives them no differential-privacy guarantee, "
         "only that they are not counted."),
    ]


def methodology_page(book: dict, partition: dict) -> str:
    """The plain methodology page published beside a DP release (``release/methodology.html``).

    Says what was released, about whom, under which guarantee and budget, how each statistic was
    computed, how accurate it is, how the segments were defined and what the guarantee does not
    cover; lists every release of the dataset (the ledger). It holds no data value.

    Parameters
    ----------
    book : dict
        The release record (``total_epsilon``, ``spent_before``, ``spent_after``, ``releases``,
        ``queries``, ``bounds``, ``partition``, ``privacy_unit``, ``alpha``).
    partition : dict
        How the segments were defined (``partition``, ``fit_share``).

    Returns
    -------
    str
        A self-contained HTML page.
    """
    this = book["releases"][-1]
    level = int(round((1 - float(book["alpha"])) * 100))
    bounds = "".join(f"<li>{html.escape(f)}: clipped to [{lo:g}, {hi:g}]</li>" for f, (lo, hi) in book["bounds"].items())
    queries = _html_table(book["queries"], ["query", "statistic", "mechanism", "epsilon", "noise_scale",
                                            f"accuracy_{level}"])
    history = _html_table(book["releases"], ["date", "run", "epsilon", "delta"])
    protection = "".join(f"<h2>{html.escape(head)}</h2>\n<p>{html.escape(text)}</p>\n"
                         for head, text in who_is_protected(float(partition["fit_share"]), float(this["epsilon"])))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Private release: methodology</title>
<style>body{{font-family:sans-serif;max-width:52em;margin:2em auto;line-height:1.45}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}</style></head><body>
<h1>Segment profiles released with differential privacy</h1>
<p>This folder holds the released values (<code>release.csv</code>), their accuracy (<code>accuracy.csv</code>)
and the privacy budget ledger (<code>ledger.json</code>). No exact value is published here.</p>
<h2>What is released</h2>
<p>For each segment: the number of customers and the mean of each bounded feature. The privacy unit is
{html.escape(book['privacy_unit'])}: every figure is almost equally likely whether or not any one released
customer is in the data (epsilon {this['epsilon']:g}, delta {this['delta']:g} for this release).</p>
<h2>How the segments were defined</h2>
<p>{html.escape(partition['partition'])}.</p>
{protection}
<h2>How each figure was computed</h2>
<p>Counts: OpenDP integer Laplace noise on the count per segment. Means: a noisy sum of the value clipped to
its bounds (bounds from the configuration, never from the data; missing values replaced by a configured
constant), divided by the noisy count; the division is post-processing and costs no budget.</p>
<ul>{bounds or '<li>no bounded features</li>'}</ul>
{queries}
<h2>Accuracy</h2>
<p><code>accuracy.csv</code> gives, per segment and statistic, the error that the noise stays within with
{level}% probability, computed from the noise scales and the released counts only. Clipping and imputation
add a bias that this bound does not include.</p>
<h2>Budget</h2>
<p>Total budget of this dataset: epsilon {book['total_epsilon']:g}. Spent before this release:
{book['spent_before']:g}; after it: {book['spent_after']:g}. Every release of the same data adds up; a
release that would exceed the total is refused.</p>
{history}
<h2>What the guarantee does not cover</h2>
<ul><li>The definition of the segments (fitted on the fit sample), the bounds and the number of segments are public.</li>
<li>The noise is drawn from a secure random source: a new release gives new values and spends budget again.</li></ul>
</body></html>
"""


def disclosure_view(check) -> pd.DataFrame:
    """The whole-run disclosure check as a table: one row per finding, or one row saying none.

    Parameters
    ----------
    check : DisclosureCheck

    Returns
    -------
    DataFrame
        ``cell``, ``tables``, ``how``.
    """
    if check.findings.empty:
        return pd.DataFrame([{"cell": "none", "tables": f"{check.n_tables} table(s)",
                              "how": f"0 of {check.n_hidden} hidden cells recoverable (exactly, or to "
                                     f"{check.width} or fewer possible values)"}])
    return check.findings[["cell", "tables", "how"]].reset_index(drop=True)


def consent_table(prepare_record: dict) -> pd.DataFrame:
    """What preparation did with each declared consent purpose (from ``data/prepare.json``).

    Parameters
    ----------
    prepare_record : dict
        ``data/prepare.json`` (its ``consent`` entry, written by :func:`consent_columns`).

    Returns
    -------
    DataFrame
        ``purpose``, ``input column``, ``applied``, ``with consent``, ``without consent``,
        ``blank`` (counts; "–" for profiling, whose opt-outs are counted with the exclusions).
        Pass the record :func:`~workbench.privacy.privacy_audit_run` returns: its counts are the
        published ones, "suppressed" where the disclosure mechanism hid them.
    """
    rows = []
    for purpose, r in (prepare_record.get("consent") or {}).items():
        rows.append({"purpose": purpose, "input column": r["column"], "applied": r["applied"],
                     **{label: _count(r.get(key)) for label, key in (("with consent", "with_consent"),
                                                                    ("without consent", "without_consent"),
                                                                    ("blank", "blank"))}})
    # object columns: counts stay integers beside "suppressed" and "–" (not floats with NaN)
    return pd.DataFrame(rows, columns=["purpose", "input column", "applied", "with consent", "without consent", "blank"],
                        dtype=object)


def _count(value):
    """A published count as shown: the integer, "suppressed" where hidden (NaN), "–" where not counted."""
    if value is None:
        return "–"
    return "suppressed" if pd.isna(value) else int(value)


def excluded_transactions_sentence(prep: dict) -> str:
    """The transactions preparation left out by date, in one sentence ("" when none were).

    ``prep`` is ``data/prepare.json``: its ``data_checks`` count transactions dated after the as-of date
    (``dataset.as_of``, or the run date when none is configured) and, with ``dataset.since``, before it.
    """
    checks = prep.get("data_checks") or {}
    future = int(checks.get("future_transactions_excluded") or 0)
    early = int(checks.get("transactions_before_since_excluded") or 0)
    cutoff = "the configured as-of date (dataset.as_of)" if checks.get("as_of") == "configured" else "the run date"
    parts = []
    if future:
        parts.append(f"{future:,} transaction{'s' if future != 1 else ''} dated after {cutoff} "
                     f"({'future-dated in the export' if checks.get('as_of') != 'configured' else 'outside the period'})")
    if early:
        parts.append(f"{early:,} transaction{'s' if early != 1 else ''} dated before dataset.since")
    if not parts:
        return ""
    return ("Excluded before any feature, fit or statistic: " + " and ".join(parts)
            + "; check the export's dates if this is unexpected.")


def replaced_values_sentence(prep: dict) -> str:
    """Text values preparation replaced for being too long, in one sentence ("" when none were)."""
    info = (prep.get("data_checks") or {}).get("long_values_replaced")
    if not info:
        return ""
    cols = ", ".join(f"{col} ({n:,})" for col, n in info["columns"].items())
    return (f"Text values longer than {info['max_length']:,} characters (dataset.max_value_length) were replaced by a "
            f"stand-in naming their length and a hash, so that they cannot stall an encoder: {cols}.")


def perturbation_paragraph(conf: dict | None, k: int) -> str:
    """The methodology's paragraph on the cell-key perturbation of published counts (``privacy.perturbation``).

    Parameters
    ----------
    conf : dict or None
        The ``privacy.perturbation`` section (``method``, ``max_perturbation``, ``variance``).
    k : int
        The suppression threshold.

    Returns
    -------
    str
        Markdown: what is perturbed, by how much, and what a reader may rely on.
    """
    from ._cellkey import PERTURBATION_DEFAULTS

    conf = {**PERTURBATION_DEFAULTS, **(conf or {})}
    if str(conf["method"]).lower() == "none":
        return ("**Perturbation** (`privacy.perturbation.method` = none): switched off. Published counts are exact, "
                "so two runs that differ by a few customers (a re-run after an erasure) can be subtracted to read "
                "those customers' cells; do not publish both.")
    D, V, m = int(conf["max_perturbation"]), float(conf["variance"]), float(conf["magnitude_scale"])
    return f"""**Perturbation** (the cell-key method of the Australian Bureau of Statistics' TableBuilder and the ONS's
Census 2021, `privacy.perturbation`). Every published count is moved by a whole number between
-{D} and +{D} (variance {V:g}; less for counts below {D + 1}), read from a fixed perturbation table by the count and a
*cell key*: a keyed hash (HMAC-SHA256 under the pseudonym key) of the cell's dimension values and of the run's
customers (without a configured pseudonym key, a hash of every prepared customer row stands in for them). The same cell therefore shows the same value in every table of this report and in every re-run of the
same customers (averaging repeated reports does not remove the noise), while a run that differs by even one
customer (an erasure) draws every cell afresh, so that subtracting two runs no longer gives any customer's
cells. A zero stays zero (a printed 0 is an exact 0), a positive count is never printed as 0, and no
perturbation is biased. **Whether a count is hidden is decided on its perturbed value** (as TableBuilder
does): a positive count whose perturbed value is below {k} is printed "< {k}", so a "< {k}" cell holds 1 to
{k - 1 + D} customers, a printed count is always {k} or more while the exact one may be as low as {k - D}, and
a "hidden†" cell holds 0 or at least {k - D}. A count near {k} is therefore shown or hidden by its cell key,
which an erasure redraws: a count shown in one run and hidden in a re-run after an erasure does not say the
erased customer was in it. Totals are perturbed on their own, so **a table's cells need not add up to its
printed totals, by up to {D} per cell: the small differences between tables are deliberate.** Every count,
rate, share, interval and ratio of the report is derived from the perturbed counts (segment sizes, RFM groups,
the window and transition counts of notebook 05, the rates of notebooks 04, 05 and 07, the campaign section);
only verdicts are decided on the exact counts. The disclosure check below works on the exact counts of the
shown cells and these printed rules for the hidden ones (a reader of the perturbed counts knows less than one
of the exact counts). Not yet protected: a count hidden as "< {k}" in one run and printed 0 in a re-run (an
exact 1 that lost the erased customer, since zeros stay zeros); the RFM groups, the segment sizes of a run without an outcome,
the given-versus-learned table and the window and transition counts of notebook 05 are still suppressed on their
exact counts (a count of {k} or more there is never printed below {k}, and a crossing there still marks the erased
customer's cell). {magnitude_sentence(m)}"""


def magnitude_sentence(m: float) -> str:
    """The methodology's sentences on the cell-key perturbation of magnitudes (``magnitude_scale`` ``m``)."""
    if m <= 0:
        return ("Sums of money and other magnitudes (revenue per customer, incremental revenue, holdout means) are printed exactly "
                "(`privacy.perturbation.magnitude_scale` = 0): two runs one erasure apart give the erased customer's "
                "revenue away; do not publish both.")
    return f"""**Sums of money and other magnitudes** (notebook 08's revenue per customer and incremental revenue,
with their intervals; notebook 07's actual and predicted mean holdout purchases) are perturbed by the cell-key method for magnitudes (ABS, ONS; the `cellKey` package's numeric variables):
each sum, and each sum of squares behind an interval, moves by {m:g} × p × the largest single customer's amount in
its cell, where p, between 0.5 and 1 either way and zero on average, is read from the same kind of cell key.
**A printed revenue total is therefore off by between half and {m:g} times its cell's largest customer amount**
(for a segment of hundreds of customers, typically a few per cent of the total); means and intervals are
computed from the printed sums and counts. The same data prints the same figures; an erasure redraws every figure,
so subtracting two runs does not give the erased customer's revenue. Not yet perturbed: notebook 07's
per-segment predicted values and their CLV figures."""


def data_methodology_markdown(audit: dict) -> str:
    """Notebook 01's methodology with this run's settings: consent, pseudonyms, suppression, risk, quality.

    Parameters
    ----------
    audit : dict
        What :func:`~workbench.privacy.privacy_audit_run` returns (``prepare``, ``risk``, ``k``,
        ``settings``).

    Returns
    -------
    str
        Markdown a reviewer can check by hand against the tables of the notebook.
    """
    prep, k, settings = audit["prepare"], int(audit["k"]), audit.get("settings", {})
    width = int(settings.get("protection_width", DEFAULTS["protection_width"]))
    counts = prep.get("counts", {})
    n_in = counts.get("customers_in_input")
    excluded = {key: v for key, v in counts.items()
                if key in ("opted_out_of_profiling", "erased", "profiling_flag_blank") and v}
    excl = "; ".join(f"{key.replace('_', ' ')}: {v:,}" for key, v in excluded.items()) or "none"
    overall = audit["risk"].get("overall")
    qis = overall["quasi_identifiers"] if overall else "none declared"
    qis = qis if isinstance(qis, str) else ", ".join(qis)
    max_comb = int((settings.get("risk") or {}).get("max_combination", 3))
    iqr = float((settings.get("quality") or {}).get("iqr_factor", 3.0))
    key = "a configured persistent key" if prep.get("pseudonyms_persistent") else "a random key for this run only"
    return f"""**Sample.** {prep.get('n_customers', 0):,} customers{'' if n_in is None else f' of {n_in:,} in the input'}
after consent and erasure, and {prep.get('n_transactions', 0):,} transactions. Exclusions by reason (the counts
printed above): {excl}. They are removed before any feature, fit, statistic or explanation of this run.
{excluded_transactions_sentence(prep)} {replaced_values_sentence(prep)}

**Pseudonyms.** Each customer id is replaced by HMAC-SHA256(key, id), with {key}; the key is never written to
the run directory.

**Suppression rule** (`privacy.suppression_k` = {k}). Every published table of counts is suppressed once: a
cell with 1 to {k - 1} customers is hidden and printed "< {k}" (primary suppression; a zero is never hidden for
its own sake; with the perturbation below, the cell's *perturbed* count decides, see there), and further cells
are hidden, printed "hidden†", so that no hidden count can be narrowed by the attacker below (complementary
suppression: such a cell holds 0 or at least {k} customers; with the perturbation, 0 or at least {k} − D). Where printing the
two markers would itself narrow a count, the table prints one marker for every hidden cell. The same cell is
hidden everywhere it appears.

{perturbation_paragraph(settings.get("perturbation"), k)}

**Threat model.** The attacker is a reviewer who reads every report of every run of this dataset, over time.
They know every published number, the suppression rules as printed above, that counts are whole numbers, every
table's margins, that an intersection (gender × age band) sums over one of its parts to the table of the other,
that a subpopulation ("customers with a predicted value") differs from all customers by a count of customers
nobody published, and how runs relate. A **disclosure** is a hidden count printed "< {k}" that they
can narrow to {width} or fewer possible values (`privacy.protection_width`; an exact value
included), a population difference pinned to 1 to {k - 1} customers, or any value of a customer present in one
run and not in the other. Notebook 06 runs this attacker as an integer programme over every published table
of the run (the whole-run disclosure check) and reports what it recovers.

**Re-identification risk.** Quasi-identifiers: {qis}. Customers are grouped by their combination of
quasi-identifier values (missing counts as a value of its own); the k-anonymity level is the size of the
smallest group, a customer is *unique* in a group of one, and the share below k counts customers in groups
smaller than {k}. Combinations of up to {max_comb} quasi-identifiers are scored for the drivers table. No
sampling and no interval: these are exact counts over the prepared customers.

**Quality.** Missing shares are exact over the prepared customers. Outliers: values beyond Tukey's fences
Q1 − {iqr:g}·IQR and Q3 + {iqr:g}·IQR of each numeric, non-binary column (`privacy.quality.iqr_factor`);
outlier counts below {k} are suppressed like any other count.
"""


def release_methodology_markdown(dp: dict, k: int) -> str:
    """Notebook 06's methodology with this run's settings: budget split, mechanisms, accuracy, ledger, disclosure.

    Parameters
    ----------
    dp : dict
        What :func:`~workbench.privacy.load_private_release` returns for an enabled release (``epsilon``,
        ``delta``, ``queries``, ``bounds``, ``alpha``, ``total_epsilon``, ``partition``).
    k : int
        The run's suppression threshold (for the whole-report disclosure check).

    Returns
    -------
    str
        Markdown a reviewer can check by hand against the ledger and accuracy tables.
    """
    level = int(round(100 * (1 - float(dp.get("alpha", 0.05)))))
    queries = dp.get("queries") or []
    n_q = len(queries)
    bounds = ", ".join(f"{f} in [{lo:g}, {hi:g}]" for f, (lo, hi) in (dp.get("bounds") or {}).items()) or "none"
    protection = "\n\n".join(f"**{head}.** {text}" for head, text in
                              who_is_protected(float(dp.get("fit_share", 0.0)), float(dp["epsilon"])))
    return f"""**Guarantee.** (epsilon, delta) = ({dp['epsilon']:g}, {dp['delta']:g}) for this release, one customer as
the privacy unit. The segments: {dp['partition']}.

{protection}

**Exact values.** The comparison of released and exact figures is an internal artefact
(`artifacts/privacy/dp_utility.parquet`): no exact value of the release is shown in this report or in any
other page a reader gets.

**Budget split.** The release's epsilon is split over its {n_q} queries (one count query over the segments, one
clamped-sum query per bounded feature), each query's share in the ledger above; by sequential composition the shares add up
to the release's epsilon. Bounds (from the config, never from the data): {bounds}.

**Mechanisms.** OpenDP's integer Laplace mechanism on public segment ids (so delta is not spent); OpenDP
derives each query's noise scale from its sensitivity and its share of epsilon (a count has sensitivity 1:
scale = 1/ε of the query). Sums are computed in fixed point on values clipped to the bounds. Means are noisy
sums over noisy counts: post-processing, no further budget.

**Accuracy** ({level}%). A count's accuracy is OpenDP's bound that the noise stays within with {level}%
probability (the accuracy column of the ledger). A mean's expected error is (a_sum + max(|lower|, |upper|) ·
a_count) / n, with n the *released* count of the segment, capped at the bound range: it uses no exact value.
Clipping and imputation add a bias this bound does not include (measured in the internal comparison only).

**Ledger.** Releases of the same dataset add up: {dp.get('spent_before', 0):g} spent before this release,
{dp.get('spent_after', 0):g} after it, of a total of {dp['total_epsilon']:g} (`privacy.dp.total_epsilon`); a
release that would exceed it is refused.

**Disclosure check.** Every published table of counts (suppression threshold {k}) is attacked jointly: a cell
hidden in one table and published in another, or pinned to one value by the totals of all tables together and
non-negativity (a linear programme minimising and maximising each hidden cell), counts as recovered.
"""
