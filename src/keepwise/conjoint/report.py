"""A fitted conjoint study as an HTML fragment: importance, willingness to pay and a what-if simulator.

:func:`section_html` is what the monthly review report and the dashboard's conjoint page embed. The fragment
is self-contained (its own small stylesheet, data and script) except for plotly.js: **the page must already
carry plotly.js** (the review report inlines it once in its ``<head>``; the dashboard serves it), because the
two figures are ``div`` elements that call ``Plotly.newPlot``.

The what-if simulator needs no server: the respondents' part-worths (one row for a conditional logit, one
per respondent for hierarchical Bayes) and the coding of every level are embedded as JSON, and a few lines
of JavaScript recompute the shares of preference whenever the reader changes a level, the price, or which
competitors are in the market. The arithmetic is that of
:func:`keepwise.conjoint.simulator.share_of_preference` (logit shares per respondent, averaged; for a
latent-class result, per class weighted by the class shares); a browser test checks the two agree to the
digits shown.

A latent-class result adds a segments table (:func:`segments_table`): each class's share, the importance of
every attribute in it and, when there is a price, its willingness to pay for each level.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import escape

from keepwise.charts import fragment, html_table
from keepwise.conjoint.coding import AttributeCoding
from keepwise.conjoint.hb import HierarchicalBayesMNL
from keepwise.conjoint.latent_class import LatentClassMNL
from keepwise.conjoint.plotting import interval_method, plot_importance, plot_wtp
from keepwise.conjoint.results import ConjointResult, importance, part_worths, segments, wtp
from keepwise.conjoint.simulator import share_of_preference
from keepwise.money import shown

__all__ = ["default_offers", "headline", "section_html", "segments_table", "show_document", "simulator_spec"]

OFFER_LABELS = ("Our offer", "Competitor A", "Competitor B")


def _amount(value: float, currency: str) -> str:
    return shown(value, currency) if currency else f"{value:,.2f}"


def _attributes(result: ConjointResult) -> list[AttributeCoding]:
    return [a for a in result.coding.attributes if a.name != result.coding.none]


def _default_level(a: AttributeCoding, which: int) -> Any:
    if a.numeric:
        values = sorted(a.values)
        if not values:
            return 0.0
        return values[[len(values) // 2, len(values) - 1, 0][which % 3]]
    return a.levels[[len(a.levels) // 2, len(a.levels) - 1, 0][which % 3]]


def default_offers(result: ConjointResult) -> list[dict[str, Any]]:
    """Starting offers of the what-if simulator: ours (middle levels), competitor A and B (other levels)."""
    return [{a.name: _default_level(a, i) for a in _attributes(result)} for i in range(len(OFFER_LABELS))]


def simulator_spec(
    result: ConjointResult, offers: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """What the embedded JavaScript needs: coding of every level, part-worth rows, starting offers."""
    coding = result.coding
    slices = coding.slices
    attributes = []
    for a in _attributes(result):
        entry: dict[str, Any] = {"name": a.name, "numeric": a.numeric, "start": slices[a.name].start}
        if a.numeric:
            values = [float(v) for v in a.values]
            entry["min"] = min(values) if values else None
            entry["max"] = max(values) if values else None
            entry["price"] = a.name == coding.price
        else:
            entry["levels"] = list(a.levels)
            entry["rows"] = a.lookup()[:-1].tolist()
        attributes.append(entry)
    start = list(offers) if offers is not None else default_offers(result)
    if len(start) != len(OFFER_LABELS):
        raise ValueError(f"the what-if simulator shows {len(OFFER_LABELS)} offers: ours and two competitors")
    return {
        "names": list(coding.names),
        "betas": np.asarray(result.betas(), dtype=float).tolist(),
        "weights": np.asarray(result.weights(), dtype=float).tolist(),
        "attributes": attributes,
        "none": slices[coding.none].start if coding.none is not None else None,
        "labels": list(OFFER_LABELS),
        "offers": [{k: v for k, v in o.items() if k != "name"} for o in start],
        "currency": result.currency,
    }


def show_document(result: ConjointResult) -> dict[str, Any]:
    """A saved study as ``keepwise conjoint show --json`` prints it and ``GET /api/conjoint`` returns it."""
    doc: dict[str, Any] = {
        "study": result.study,
        "model": type(result.model).__name__,
        "currency": result.currency,
        "headline": headline(result),
        "coefficients": result.coefficients,
        "std_errors": result.std_errors,
        "part_worths": part_worths(result).to_dict(orient="records"),
        "importance": importance(result).to_dict(orient="records"),
    }
    if result.coding.price is not None:
        doc["wtp"] = wtp(result).to_dict(orient="records")
    if isinstance(result.model, LatentClassMNL):
        doc["segments"] = segments(result)
    return doc


def headline(result: ConjointResult) -> str:
    """One sentence: what matters most, and the largest willingness to pay with its interval."""
    imp = importance(result)
    top = imp.iloc[0]
    sentence = f"{top['attribute']} drives {top['importance']:.0f}% of the choice"
    if result.coding.price is not None:
        table = wtp(result)
        table = table[table["level"] != "per unit"]
        if len(table):
            best = table.to_dict(orient="records")[int(np.argmax(table["wtp"].to_numpy()))]
            level = str(best["level"]).replace(" vs ", " over ")
            cur = result.currency
            sentence += (
                f"; customers would pay {_amount(float(best['wtp']), cur)} more for {best['attribute']} "
                f"{level} (95% interval {_amount(float(best['lower']), cur)} to "
                f"{_amount(float(best['upper']), cur)})"
            )
    name = f"Conjoint study '{result.study}'" if result.study else "The conjoint study"
    return f"{name}: {sentence}."


def _fit_sentence(result: ConjointResult) -> str:
    model = result.model
    if isinstance(model, LatentClassMNL):
        return (
            f"Latent-class logit with {model.classes} classes on {model.n_respondents_:,} respondents and "
            f"{model.n_tasks_:,} choice tasks (log-likelihood {model.log_likelihood_:,.1f}, BIC "
            f"{model.bic_:,.1f}); population figures are share-weighted over the classes."
        )
    if isinstance(model, HierarchicalBayesMNL):
        rhat = float(np.max(model.rhat_["mean"]))
        ess = float(np.min(model.ess_["mean"]))
        return (
            f"Hierarchical Bayes on {model.n_respondents_:,} respondents and {model.n_tasks_:,} choice tasks "
            f"(largest R-hat {rhat:.2f}, smallest effective sample {ess:,.0f} draws)."
        )
    return (
        f"Conditional logit on {model.n_tasks_:,} choice tasks (log-likelihood {model.log_likelihood_:,.1f}, "
        f"McFadden rho-squared {model.rho_squared_:.3f})."
    )


def _input(a: dict[str, Any], offer: int, value: Any, prefix: str) -> str:
    name = escape(a["name"])
    common = f'data-offer="{offer}" data-attr="{name}" id="{prefix}-o{offer}-{name}"'
    if a["numeric"]:
        return f'<input type="number" step="any" {common} value="{float(value):g}" size="7">'
    options = "".join(
        f'<option value="{escape(level)}"{" selected" if str(level) == str(value) else ""}>'
        f"{escape(level)}</option>"
        for level in a["levels"]
    )
    return f"<select {common}>{options}</select>"


def _whatif(result: ConjointResult, spec: dict[str, Any], prefix: str) -> str:
    labels = spec["labels"]
    offers = spec["offers"]
    in_market = [True, True, False]
    head = "".join(f"<th>{escape(label)}</th>" for label in labels)
    rows = [
        "<tr><td>in the market</td><td>always</td>"
        + "".join(
            f'<td><input type="checkbox" data-include="{i}" id="{prefix}-include-{i}"'
            f"{' checked' if in_market[i] else ''}></td>"
            for i in range(1, len(labels))
        )
        + "</tr>"
    ]
    for a in spec["attributes"]:
        name = str(a["name"])
        if a.get("price") and spec["currency"]:
            name += f" ({spec['currency']})"
        cells = "".join(
            f"<td>{_input(a, i, offers[i].get(a['name']), prefix)}</td>" for i in range(len(labels))
        )
        rows.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
    market = [o for o, keep in zip(offers, in_market, strict=True) if keep]
    shares = share_of_preference(result, market, none=spec["none"] is not None).tolist()
    share_rows = []
    for i, label in enumerate(labels):
        text = f"{100 * shares[in_market[: i + 1].count(True) - 1]:.1f}%" if in_market[i] else "not offered"
        share_rows.append(
            f'<tr><td>{escape(label)}</td><td class="num" data-share="{i}" id="{prefix}-share-{i}">'
            f"{text}</td></tr>"
        )
    if spec["none"] is not None:
        share_rows.append(
            "<tr><td>none of these (stay away)</td>"
            f'<td class="num" data-share="none" id="{prefix}-share-none">{100 * shares[-1]:.1f}%</td></tr>'
        )
    data = json.dumps(spec, allow_nan=False).replace("<", "\\u003c")
    return f"""
<div class="kw-whatif" id="{prefix}-whatif">
  <h3>What if we changed our offer?</h3>
  <p class="notes">Pick the levels of our offer and of the competitors' offers; the shares of preference
  (logit shares per respondent, averaged) update at once, computed in this page from the estimated
  part-worths. Shares are of people choosing among the offers shown, not a sales forecast.</p>
  <table class="data kw-offers"><thead><tr><th>attribute</th>{head}</tr></thead>
  <tbody>{"".join(rows)}</tbody></table>
  <table class="data kw-shares"><thead><tr><th>option</th><th>share of preference</th></tr></thead>
  <tbody>{"".join(share_rows)}</tbody></table>
  <p class="notes" id="{prefix}-range-note"></p>
  <script type="application/json" id="{prefix}-spec">{data}</script>
  <script>{_SCRIPT.replace("__PREFIX__", prefix)}</script>
</div>"""


_SCRIPT = """
(function () {
  var prefix = "__PREFIX__";
  var root = document.getElementById(prefix + "-whatif");
  var spec = JSON.parse(document.getElementById(prefix + "-spec").textContent);
  var K = spec.names.length;
  function vector(offer) {
    var z = new Array(K).fill(0);
    spec.attributes.forEach(function (a) {
      var el = root.querySelector('[data-offer="' + offer + '"][data-attr="' + a.name + '"]');
      if (a.numeric) {
        z[a.start] = parseFloat(el.value);
      } else {
        var row = a.rows[a.levels.indexOf(el.value)];
        for (var j = 0; j < row.length; j++) { z[a.start + j] = row[j]; }
      }
    });
    return z;
  }
  function update() {
    var options = [0];
    for (var i = 1; i < spec.labels.length; i++) {
      if (root.querySelector('[data-include="' + i + '"]').checked) { options.push(i); }
    }
    var Z = options.map(vector);
    if (spec.none !== null) { var zn = new Array(K).fill(0); zn[spec.none] = 1; Z.push(zn); }
    var bad = Z.some(function (z) { return z.some(function (x) { return !isFinite(x); }); });
    var shares = new Array(Z.length).fill(0);
    if (!bad) {
      spec.betas.forEach(function (beta, r) {
        var u = Z.map(function (z) {
          var s = 0;
          for (var k = 0; k < K; k++) { s += beta[k] * z[k]; }
          return s;
        });
        var m = Math.max.apply(null, u);
        var e = u.map(function (x) { return Math.exp(x - m); });
        var total = e.reduce(function (a, b) { return a + b; }, 0);
        for (var j = 0; j < e.length; j++) { shares[j] += spec.weights[r] * e[j] / total; }
      });
    }
    function show(key, value) {
      var cell = root.querySelector('[data-share="' + key + '"]');
      cell.textContent = bad ? "enter a number" : (100 * value).toFixed(1) + "%";
    }
    for (var i = 0; i < spec.labels.length; i++) {
      var at = options.indexOf(i);
      if (at < 0) { root.querySelector('[data-share="' + i + '"]').textContent = "not offered"; }
      else { show(i, shares[at]); }
    }
    if (spec.none !== null) { show("none", shares[shares.length - 1]); }
    var notes = [];
    spec.attributes.forEach(function (a) {
      if (!a.numeric || a.min === null) { return; }
      options.forEach(function (i) {
        var v = parseFloat(root.querySelector('[data-offer="' + i + '"][data-attr="' + a.name + '"]').value);
        if (v < a.min || v > a.max) {
          notes.push(spec.labels[i] + ": " + a.name + " " + v + " is outside the tested range " + a.min +
            " to " + a.max + ", so its share extrapolates a straight line.");
        }
      });
    });
    document.getElementById(prefix + "-range-note").textContent = notes.join(" ");
  }
  root.querySelectorAll("select, input").forEach(function (el) {
    el.addEventListener("input", update);
    el.addEventListener("change", update);
  });
  update();
})();
"""


def segments_table(result: ConjointResult) -> pd.DataFrame:
    """One row per latent class (an empty frame for other models).

    Columns: ``class``, ``share`` (%), ``importance: A`` (%) per attribute and, with a price,
    ``WTP: A level`` per level.
    """
    rows = []
    for seg in segments(result):
        row: dict[str, Any] = {"class": seg["class"], "share": 100 * seg["share"]}
        row.update({f"importance: {a}": v for a, v in seg["importance"].items()})
        for w in seg.get("wtp", []):
            row[f"WTP: {w['attribute']} {w['level']}"] = float(w["wtp"])
        rows.append(row)
    return pd.DataFrame(rows)


def _segments_html(result: ConjointResult) -> str:
    table = segments_table(result)
    if table.empty:
        return ""
    cur = result.currency
    columns = list(table.columns)
    body = []
    for record in table.to_dict(orient="records"):
        cells: list[Any] = [f"class {record['class']}", f"{record['share']:.1f}%"]
        for c in columns[2:]:
            value = float(record[c])
            cells.append(f"{value:.1f}%" if c.startswith("importance: ") else _amount(value, cur))
        body.append(tuple(cells))
    heads = ["segment", "share", *columns[2:]]
    return (
        "<h3>Segments (latent classes)</h3>"
        + html_table(heads, body, numeric=tuple(range(1, len(heads))))
        + '<p class="notes">Each class has its own part-worths; shares are the estimated class sizes. '
        "WTP per class is over each attribute's first level. The figures above and the what-if shares mix "
        "the classes by their shares.</p>"
    )


_STYLE = """<style>
.kw-conjoint .kw-offers select, .kw-conjoint .kw-offers input[type=number] { width: 100%; }
.kw-conjoint .kw-shares { max-width: 28rem; }
</style>"""


def section_html(
    result: ConjointResult,
    offers: Sequence[Mapping[str, Any]] | None = None,
    div_id: str = "conjoint",
) -> str:
    """The conjoint results as one HTML fragment: importance bars, WTP with intervals, what-if simulator.

    The page that embeds it must already carry plotly.js (the fragment's figures call ``Plotly.newPlot``);
    everything else (styles, data, the simulator's script) is inside the fragment, and nothing is fetched.

    Parameters
    ----------
    result:
        A fitted (or loaded, :func:`keepwise.conjoint.store.load_result`) study.
    offers:
        Starting levels of the three offers in the simulator (ours, competitor A, competitor B) as
        ``{attribute: level}``; default :func:`default_offers`.
    div_id:
        Prefix of every element id, so that two fragments can share a page.
    """
    spec = simulator_spec(result, offers)
    parts = [
        _STYLE,
        f'<div class="kw-conjoint" id="{escape(div_id)}">',
        f"<p>{escape(headline(result))}</p>",
        f'<p class="notes">{escape(_fit_sentence(result))}</p>',
        fragment(plot_importance(result), f"{div_id}-importance"),
    ]
    if result.coding.price is not None:
        table = wtp(result)
        parts.append(fragment(plot_wtp(result), f"{div_id}-wtp"))
        cur = result.currency
        parts.append(
            html_table(
                ["attribute", "level", "willingness to pay", "95% interval"],
                [
                    (
                        r["attribute"],
                        r["level"],
                        _amount(float(r["wtp"]), cur),
                        f"{_amount(float(r['lower']), cur)} to {_amount(float(r['upper']), cur)}",
                    )
                    for r in table.to_dict(orient="records")
                ],
                numeric=(2, 3),
            )
        )
        parts.append(f'<p class="notes">Intervals: {escape(interval_method(result))}.</p>')
    parts.append(_segments_html(result))
    parts.append(_whatif(result, spec, escape(div_id)))
    parts.append("</div>")
    return "\n".join(parts)
