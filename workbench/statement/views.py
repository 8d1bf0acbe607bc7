"""One customer's statement as a self-contained HTML page (no scripts, nothing loaded from elsewhere)."""

from __future__ import annotations

import html

from ._content import action_words, readable

_CSS = """body{font-family:system-ui,"DejaVu Sans",sans-serif;max-width:46em;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:.6em 0 1.2em}td,th{border-bottom:1px solid #ddd;padding:.3em .7em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.note{color:#555;font-size:.9em}.draft{border:2px solid #b00;color:#b00;padding:.4em .7em}@media print{body{margin:0;max-width:none}}"""


def render_statement(content: dict, raw_id: str) -> str:
    """The statement page: who it is for, data held, segment, reasons, what would change it, model, rights.

    Parameters
    ----------
    content : dict
        :func:`workbench.statement.statement_for` output for one customer.
    raw_id : str
        The customer's own id, shown so the statement reaches the right person.

    Returns
    -------
    str
        A complete HTML document.
    """
    e = html.escape
    exp, model = content["explanation"], content["model"]
    draft = bool(model.get("draft"))
    body = [
        _DRAFT if draft else "",
        _header(model, raw_id),
        f"<h2>Your segment</h2><p>You are in the segment <b>“{e(exp['segment_name'])}”</b>. {e(exp['paragraph'])}</p>",
        _choices_section(content),
        _consequences(content),
        _reasons(exp),
        _change(exp),
        _data_section(content),
        _model_section(model),
        _controller_section(model),
        _rights(model),
        "</main>",
        _DRAFT if draft else "",
    ]
    return _document(body, draft)


def render_objection(content: dict, raw_id: str) -> str:
    """The statement of a customer left out for their objection to profiling: the objection we hold and
    honour, what was not done, what our records still hold, the controller's texts and what they can do.

    Parameters
    ----------
    content : dict
        :func:`workbench.statement.stage.objection_statement_for` output for one customer.
    raw_id : str
        The customer's own id.

    Returns
    -------
    str
        A complete HTML document.
    """
    e = html.escape
    model, day = content["model"], e(content["objected_on"])
    draft = bool(model.get("draft"))
    actions = ", ".join(action_words(a) for a in model.get("policy") or {})
    offers = (f" Offers chosen by segment ({e(actions)}) are therefore not chosen for you this way." if actions else "")
    items = "".join(f"<li>{e(readable(c))}</li>" for c in content["items"])
    if content["purchases"]:
        items += "<li>your purchases (date and amount of each)</li>"
    run_date = e(str(model.get("run_date") or "not recorded"))
    body = [
        _DRAFT if draft else "",
        _header(model, raw_id),
        "<h2>What you told us and what we did</h2><ul>"
        f"<li>Objection to profiling for marketing recorded on {day}: since then you are in no segment, and no "
        "score, prediction or model is computed from your data. The segmentation run of "
        f"{run_date} left you out before anything was computed.</li></ul>",
        f"<h2>What your objection means for you</h2><p>You have no segment, no predicted value and no explanation "
        f"of a segment, because none was worked out about you.{offers}</p>",
        "<h2>The data we hold about you</h2>"
        "<p><b>In this segmentation run:</b> only the record of your objection (its date), under a pseudonym, so "
        "that it is honoured in this and every later run. None of your values is in it.</p>"
        f"<p><b>In our customer records</b> ({e(str(model.get('source') or 'our customer records'))}): the items "
        "below, as for every customer, kept for the purposes and the period stated below; while your objection "
        f"stands they are not used to place you in a segment.</p><ul>{items}</ul>"
        "<p class=\"note\">A copy of the values themselves comes with an access request (GDPR Art. 15(3)).</p>",
        _controller_section(model),
        "<h2>Your rights</h2><ul>"
        "<li><b>Withdraw your objection</b>: tell us, and from then on you may be placed in segments again.</li>"
        "<li><b>Access, correction and erasure</b> (GDPR Art. 15–17): ask for a copy of what our customer records "
        "hold, correct wrong values or have your data erased.</li>"
        f"</ul><p>To do any of these, contact {e(model['contact'])}.</p>",
        "</main>",
        _DRAFT if draft else "",
    ]
    return _document(body, draft)


def _header(model: dict, raw_id: str) -> str:
    e = html.escape
    return (f"<header><h1>Your customer segment: what we hold and why</h1><p>Statement for customer <b>{e(raw_id)}</b>"
            f"{' from ' + e(model['controller']) if model.get('controller') else ''}. It shows only your own data.</p>"
            "</header><main>")


def _document(body: list[str], draft: bool) -> str:
    title = "DRAFT – Your customer segment" if draft else "Your customer segment"
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}"
            f"</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


_DRAFT = ("<p class=\"draft\"><b>DRAFT</b>: not for sending. The controller's texts an access request must "
          "contain are missing from the configuration.</p>")


def _choices_section(content: dict) -> str:
    e = html.escape
    said = content.get("choices") or []
    items = "".join(f"<li>{e(s)}</li>" for s in said) or "<li>You have not told us any objection, contest, " \
        "correction or segment of your own.</li>"
    return f"<h2>What you told us and what we did</h2><ul>{items}</ul>"


def _consequences(content: dict) -> str:
    e = html.escape
    actions = content.get("consequences") or []
    leads = (f"Your segment leads to: {e(', '.join(actions))}." if actions
             else "Your segment leads to no offer or campaign at present.")
    rows = "".join(f"<tr><td>{e(o['field'])}</td><td>{e(o['value'])}</td></tr>" for o in content.get("outputs") or [])
    return ("<h2>What your segment means for you</h2>"
            f"<p>{leads}</p><h3>What we worked out about you</h3><table><thead><tr><th scope=\"col\">item</th>"
            f"<th scope=\"col\">value</th></tr></thead><tbody>{rows}</tbody></table>")


def _controller_section(model: dict) -> str:
    e = html.escape
    given = lambda key: e(str(model.get(key) or "not stated (draft)"))  # noqa: E731
    special = (f"<li><b>Special categories of data</b> (such as ethnic origin) are processed on this basis: "
               f"{e(str(model['special_category_basis']))}.</li>" if model.get("special_category_basis") else "")
    return (
        "<h2>Who is responsible, why and for how long</h2><ul>"
        f"<li><b>Controller</b>: {given('controller')}.</li>"
        f"<li><b>Purposes</b>: {given('purpose')}.</li>"
        f"<li><b>Legal basis</b>: {given('legal_basis')}.</li>{special}"
        f"<li><b>Who receives your data</b>: {given('recipients')}.</li>"
        f"<li><b>How long we keep it</b>: {given('retention')}.</li>"
        f"<li><b>Where the data comes from</b>: {e(str(model.get('source') or 'our customer records'))}.</li>"
        f"<li><b>Your right to complain</b>: you may complain to the supervisory authority, "
        f"{given('supervisory_authority')}.</li></ul>"
    )


def _reasons(exp: dict) -> str:
    e = html.escape
    # a value the customer shares with their segment's typical member and with the population is no reason
    reasons = [c for c in exp.get("contributions") or [] if not _shared_by_everyone(c)]
    if not reasons:
        return "<h2>Why</h2><p>No feature-level explanation is available for your segment.</p>"
    rows = "".join(
        f"<tr><td>{e(_words(c['feature']))}</td><td>{e(_num(c.get('value')))}</td>"
        f"<td>{e(_num(c.get('typical')))}</td></tr>" for c in reasons
    )
    return ("<h2>The main reasons</h2><p>These of your values weighed most in placing you in this segment "
            "rather than the next closest one:</p><table><thead><tr><th scope=\"col\">what</th>"
            "<th scope=\"col\">your value</th><th scope=\"col\">typical member of your segment</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _change(exp: dict) -> str:
    e = html.escape
    cf = exp.get("counterfactual")
    if not cf or not cf.get("found"):
        why = f" ({e(cf['why'])})" if cf and cf.get("why") else ""
        return ("<h2>What would change your segment</h2><p>No realistic change in your own buying that we "
                f"searched would move you to another segment{why}.</p>")
    actions = "".join(f"<li>{e(a)}</li>" for a in cf.get("actions", []))
    items = "".join(f"<li>{e(_words(c['feature']))}: from {e(_num(c['from']))} to {e(_num(c['to']))}</li>"
                    for c in cf.get("changes", []))
    return (f"<h2>What would change your segment</h2><p>These purchases in the coming months would move you to "
            f"“{e(str(cf.get('target_name', cf.get('target'))))}”:</p><ul>{actions}</ul>"
            f"<p>By then they would change what we compute from your purchases:</p><ul>{items}</ul>"
            "<p class=\"note\">Only future purchases were considered: what you bought before cannot change, and "
            "age, gender, where you live or how long you have been a customer are never suggested.</p>")


def _data_section(content: dict) -> str:
    e = html.escape
    parts = ["<h2>The data we hold about you</h2>"]
    for group in content["data"]:
        rows = "".join(f"<tr><td>{e(i['field'])}</td><td>{e(i['value'])}</td><td>{e(i['use'])}</td></tr>"
                       for i in group["items"])
        parts.append(f"<table><caption>{e(group['category'].capitalize())}</caption><thead><tr>"
                     "<th scope=\"col\">item</th><th scope=\"col\">value</th><th scope=\"col\">use</th></tr>"
                     f"</thead><tbody>{rows}</tbody></table>")
    p = content.get("purchases")
    if p:
        parts.append(f"<p>Purchases: {p['transactions']:,} between {e(p['first'])} and {e(p['last'])}, "
                     f"{p['total_amount']:,.2f} in total.</p>")
    if content["segmentation_values"]:
        rows = "".join(f"<tr><td>{e(v['field'])}</td><td>{e(v['value'])}</td></tr>"
                       for v in content["segmentation_values"])
        parts.append("<h3>Values used to choose your segment</h3><p class=\"note\">Including figures worked out "
                     "from your purchases.</p><table><thead><tr><th scope=\"col\">value</th>"
                     f"<th scope=\"col\">yours</th></tr></thead><tbody>{rows}</tbody></table>")
    return "".join(parts)


def _model_section(model: dict) -> str:
    e = html.escape
    commit = (model.get("git_commit") or "not recorded")[:12]
    return (f"<h2>The model</h2><p>Segments made by {e(str(model.get('method')))} with {e(str(model.get('k')))} "
            f"segments; run on {e(str(model.get('run_date') or 'not recorded'))}, software version {e(commit)}, "
            f"configuration {e((model.get('config_sha256') or 'not recorded')[:12])}."
            + (f" Purpose: {e(model['purpose'])}." if model.get("purpose") else "") + "</p>")


def _rights(model: dict) -> str:
    contact = html.escape(model["contact"])
    return (
        "<h2>Your rights</h2><ul>"
        "<li><b>Object to profiling</b> (GDPR Art. 21): ask us to stop placing you in segments. Once you opt out, "
        "you are removed before any future segmentation or statistic.</li>"
        "<li><b>Human review</b> (GDPR Art. 22): if a decision about you rests on your segment, you can ask a person "
        "to review it, give your view and contest it.</li>"
        "<li><b>Access, correction and erasure</b> (GDPR Art. 15–17): ask for a copy, correct wrong values or have "
        "your data erased.</li>"
        f"</ul><p>To do any of these, contact {contact}.</p>"
    )


def _shared_by_everyone(contribution: dict) -> bool:
    """Whether the customer's value equals both their segment's typical value and the population's (as shown)."""
    shown = [_num(contribution.get(k)) for k in ("value", "typical", "population_median")]
    return "not recorded" not in shown and len(set(shown)) == 1


def _words(name: str) -> str:
    return readable(name)


def _num(value) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, (int, float)):
        return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"
    return str(value)
