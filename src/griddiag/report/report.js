/* griddiag report: renders the embedded findings page by page, with sorting and filters.
   Hand-written, no framework, no network. Data goes into the page with textContent only, so a
   value that looks like a script tag stays text. The view (filters, sort, page) lives in the URL hash
   ("#view:sev=critical&page=2"), so a filtered view can be bookmarked or sent to a colleague. */
(function () {
  "use strict";
  var body = document.body;
  var errors = 0;
  function bump() { errors += 1; body.setAttribute("data-js-errors", String(errors)); }
  window.addEventListener("error", bump);
  document.addEventListener("securitypolicyviolation", bump);

  var data = JSON.parse(document.getElementById("report-data").textContent);
  var T = data.table, I = data.i18n, S = T.strings, R = T.rows, U = I.ui;
  var C = {};
  T.cols.forEach(function (c, i) { C[c] = i; });
  var coded = {};
  T.coded.forEach(function (c) { coded[c] = true; });
  var sevRank = {}, statusRank = {};
  data.sevOrder.forEach(function (s, i) { sevRank[s] = i; });
  data.statusOrder.forEach(function (s, i) { statusRank[s] = i; });
  var NONE = U.none;

  function val(row, col) {
    var v = row[C[col]];
    if (v === null || v === undefined) { return null; }
    return coded[col] ? S[v] : v;
  }
  function fill(text, args) {
    return text.replace(/\{(\w+)\}/g, function (m, k) { return k in args ? String(args[k]) : m; });
  }
  function fmt(v) {
    if (v === null || v === undefined) { return NONE; }
    if (v === 0) { return "0"; }
    var a = Math.abs(v);
    if (a >= 1e9 || a < 1e-4) { return v.toExponential(3); }
    var s = a >= 1000 ? v.toFixed(0) : v.toPrecision(4);
    if (s.indexOf(".") >= 0 && s.indexOf("e") < 0) { s = s.replace(/0+$/, "").replace(/\.$/, ""); }
    return s;
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function byId(id) { return document.getElementById(id); }

  var state = { sev: "", kind: "", status: "", area: "", asset: "", sort: "", dir: 1, page: 1, size: 50 };

  /* Filter options from the data (only values that occur). */
  function distinct(col) {
    var seen = {}, out = [];
    for (var i = 0; i < R.length; i++) {
      var v = val(R[i], col);
      if (v !== null && !seen[v]) { seen[v] = true; out.push(v); }
    }
    return out;
  }
  function addOptions(select, items) {
    items.forEach(function (it) {
      var o = el("option", null, it[1]);
      o.value = it[0];
      select.appendChild(o);
    });
  }
  var sevs = distinct("sev").sort(function (a, b) { return (sevRank[a] || 0) - (sevRank[b] || 0); });
  addOptions(byId("f-sev"), sevs.map(function (s) { return [s, I.severity[s] || s]; }));
  var kinds = distinct("kind").map(function (k) { return [k, I.kind[k] || k]; });
  kinds.sort(function (a, b) { return a[1].localeCompare(b[1]); });
  addOptions(byId("f-kind"), kinds);
  var statuses = distinct("status").sort(function (a, b) {
    return (statusRank[a] === undefined ? 9 : statusRank[a]) - (statusRank[b] === undefined ? 9 : statusRank[b]);
  });
  addOptions(byId("f-status"), statuses.map(function (s) { return [s, I.status[s] || s]; }));
  var feeders = distinct("feeder").sort(), areas = distinct("area").sort();
  addOptions(byId("f-area"), feeders.map(function (f) { return ["f:" + f, U.feeder + " " + f]; })
    .concat(areas.map(function (a) { return ["a:" + a, U.area + " " + a]; })));

  /* Filtering and sorting produce a list of row indices; only one page becomes DOM. */
  function matches(row) {
    if (state.sev && val(row, "sev") !== state.sev) { return false; }
    if (state.kind && val(row, "kind") !== state.kind) { return false; }
    if (state.status && val(row, "status") !== state.status) { return false; }
    if (state.area) {
      var col = state.area.charAt(0) === "f" ? "feeder" : "area";
      if (val(row, col) !== state.area.slice(2)) { return false; }
    }
    if (state.asset) {
      var a = val(row, "asset");
      if (a === null || a.toLowerCase().indexOf(state.asset.toLowerCase()) < 0) { return false; }
    }
    return true;
  }
  function sortValue(row, col) {
    var v = val(row, col);
    if (v === null) { return null; }
    if (col === "sev") { return sevRank[v]; }
    if (col === "status") { return statusRank[v]; }
    if (col === "kind") { return I.kind[v] || v; }
    return v;
  }
  function view() {
    var idx = [];
    for (var i = 0; i < R.length; i++) { if (matches(R[i])) { idx.push(i); } }
    if (state.sort && C[state.sort] !== undefined) {
      var col = state.sort, dir = state.dir;
      idx.sort(function (x, y) {
        var a = sortValue(R[x], col), b = sortValue(R[y], col);
        if (a === b) { return x - y; }
        if (a === null || a === undefined) { return 1; }   /* missing values last, both ways */
        if (b === null || b === undefined) { return -1; }
        var c = (typeof a === "number" && typeof b === "number") ? a - b : String(a).localeCompare(String(b));
        return c === 0 ? x - y : c * dir;
      });
    }
    return idx;
  }

  var detailOpen = {};
  function detailRow(row, i) {
    var tr = el("tr", "detail");
    var td = el("td");
    td.colSpan = 12;
    var dl = el("dl");
    function item(key, text) {
      dl.appendChild(el("dt", null, U[key]));
      dl.appendChild(el("dd", null, text === null || text === undefined || text === "" ? NONE : String(text)));
    }
    item("reason", val(row, "reason"));
    item("action", I.action[val(row, "kind")] || val(row, "action"));
    item("rule", val(row, "rule"));
    item("standard", val(row, "standard"));
    item("detector", val(row, "detector"));
    item("magnitude", fmt(val(row, "magnitude")) + " " + (val(row, "unit") || ""));
    item("coverage", val(row, "coverage") === null ? NONE : (val(row, "coverage") * 100).toFixed(1) + " %");
    item("feeder", val(row, "feeder"));
    if (I.action[val(row, "kind")]) { item("detector_action", val(row, "action")); }
    td.appendChild(dl);
    var card = val(row, "card");
    if (card !== null) {
      var a = el("a", null, U.nav_serious + " →");
      a.href = "#card-" + card;
      td.appendChild(a);
    }
    tr.appendChild(td);
    tr.setAttribute("data-detail-of", String(i));
    return tr;
  }
  function rowEl(row, i) {
    var tr = el("tr");
    tr.setAttribute("data-row", String(i));
    var sev = val(row, "sev");
    var td = el("td");
    td.appendChild(el("span", "sev sev-" + (sevRank[sev] === undefined ? "unknown" : sev), I.severity[sev] || sev || NONE));
    tr.appendChild(td);
    var st = val(row, "status");
    td = el("td");
    if (st !== null) { td.appendChild(el("span", "status st-" + (statusRank[st] === undefined ? "unknown" : st), I.status[st] || st)); }
    else { td.textContent = NONE; }
    tr.appendChild(td);
    var kind = val(row, "kind");
    tr.appendChild(el("td", null, I.kind[kind] || kind));
    td = el("td", "asset", val(row, "asset"));
    var card = val(row, "card");
    if (card !== null) {
      var a = el("a", "card-link", "▸");
      a.href = "#card-" + card;
      a.title = U.nav_serious;
      td.appendChild(document.createTextNode(" "));
      td.appendChild(a);
    }
    tr.appendChild(td);
    tr.appendChild(el("td", null, val(row, "area") || NONE));
    var metric = val(row, "metric");
    var mtd = el("td", null, I.metric[metric] || metric);
    mtd.title = metric;
    tr.appendChild(mtd);
    tr.appendChild(el("td", "ts", val(row, "start") || NONE));
    tr.appendChild(el("td", "ts", val(row, "end") || NONE));
    var unit = val(row, "unit") || "";
    tr.appendChild(el("td", "num", fmt(val(row, "observed")) + (val(row, "observed") === null ? "" : " " + unit)));
    tr.appendChild(el("td", "num", fmt(val(row, "expected")) + (val(row, "expected") === null ? "" : " " + unit)));
    var reason = val(row, "reason");
    td = el("td", "reason");
    td.appendChild(el("div", "clamp", reason || NONE));  /* full text in the detail row */
    td.title = U.details;
    tr.appendChild(td);
    var act = I.action[kind] || val(row, "action");
    td = el("td", "action");
    td.appendChild(el("div", "clamp", act || NONE));
    tr.appendChild(td);
    tr.addEventListener("click", function (ev) {
      if (ev.target && ev.target.tagName === "A") { return; }
      detailOpen[i] = !detailOpen[i];
      render();
    });
    return tr;
  }

  function writeHash() {
    var parts = [];
    ["sev", "kind", "status", "area", "asset", "sort"].forEach(function (k) {
      if (state[k]) { parts.push(k + "=" + encodeURIComponent(state[k])); }
    });
    if (state.sort && state.dir < 0) { parts.push("dir=desc"); }
    if (state.page > 1) { parts.push("page=" + state.page); }
    if (state.size !== 50) { parts.push("size=" + state.size); }
    try {
      history.replaceState(null, "", parts.length ? "#view:" + parts.join("&") : location.pathname + location.search);
    } catch (e) { /* some browsers refuse history on file:// pages: the view still works */ }
  }
  function readHash() {
    var h = location.hash;
    if (h.indexOf("#view:") !== 0) { return false; }
    h.slice(6).split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i < 0) { return; }
      var k = kv.slice(0, i), v;
      try { v = decodeURIComponent(kv.slice(i + 1)); } catch (e) { return; }
      if (k === "page") { state.page = Math.max(1, parseInt(v, 10) || 1); }
      else if (k === "size") { state.size = [25, 50, 100, 250].indexOf(parseInt(v, 10)) >= 0 ? parseInt(v, 10) : 50; }
      else if (k === "dir") { state.dir = v === "desc" ? -1 : 1; }
      else if (k in state) { state[k] = v; }
    });
    return true;
  }
  function syncControls() {
    ["sev", "kind", "status", "area"].forEach(function (k) { byId("f-" + k).value = state[k]; });
    byId("f-asset").value = state.asset;
    byId("pg-size").value = String(state.size);
    var ths = document.querySelectorAll("#findings-table th[data-sort]");
    for (var i = 0; i < ths.length; i++) {
      var k = ths[i].getAttribute("data-sort");
      ths[i].setAttribute("aria-sort", k === state.sort ? (state.dir > 0 ? "ascending" : "descending") : "none");
    }
  }

  function render() {
    var idx = view();
    var pages = Math.max(1, Math.ceil(idx.length / state.size));
    if (state.page > pages) { state.page = pages; }
    var from = (state.page - 1) * state.size;
    var tbody = byId("findings-body");
    var frag = document.createDocumentFragment();
    var shown = idx.slice(from, from + state.size);
    shown.forEach(function (i) {
      frag.appendChild(rowEl(R[i], i));
      if (detailOpen[i]) { frag.appendChild(detailRow(R[i], i)); }
    });
    if (!shown.length) {
      var tr = el("tr", "empty"), td = el("td", null, U.no_match);
      td.colSpan = 12;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    tbody.textContent = "";
    tbody.appendChild(frag);
    byId("match-count").textContent = fill(U.rows_shown, { shown: idx.length, total: R.length });
    byId("pg-label").textContent = fill(U.page_of, { page: state.page, pages: pages });
    byId("pg-prev").disabled = state.page <= 1;
    byId("pg-next").disabled = state.page >= pages;
    body.setAttribute("data-page", String(state.page));
    body.setAttribute("data-pages", String(pages));
    body.setAttribute("data-matches", String(idx.length));
    body.setAttribute("data-rows", String(shown.length));
    syncControls();
  }
  function changed() { state.page = 1; writeHash(); render(); }

  ["sev", "kind", "status", "area"].forEach(function (k) {
    byId("f-" + k).addEventListener("change", function (ev) { state[k] = ev.target.value; changed(); });
  });
  byId("f-asset").addEventListener("input", function (ev) { state.asset = ev.target.value.trim(); changed(); });
  byId("f-reset").addEventListener("click", function () {
    state.sev = state.kind = state.status = state.area = state.asset = state.sort = "";
    state.dir = 1;
    changed();
  });
  byId("pg-prev").addEventListener("click", function () { state.page -= 1; writeHash(); render(); });
  byId("pg-next").addEventListener("click", function () { state.page += 1; writeHash(); render(); });
  byId("pg-size").addEventListener("change", function (ev) { state.size = parseInt(ev.target.value, 10) || 50; changed(); });
  var ths = document.querySelectorAll("#findings-table th[data-sort]");
  function sortBy(th) {
    var k = th.getAttribute("data-sort");
    if (state.sort === k) { state.dir = -state.dir; } else { state.sort = k; state.dir = 1; }
    writeHash();
    render();
  }
  for (var t = 0; t < ths.length; t++) {
    ths[t].addEventListener("click", function (ev) { sortBy(ev.currentTarget); });
    ths[t].addEventListener("keydown", function (ev) { if (ev.key === "Enter") { sortBy(ev.currentTarget); } });
  }
  /* Links in the summary ("assets with the most serious findings") filter the table. */
  var links = document.querySelectorAll("a.filter-link");
  for (var l = 0; l < links.length; l++) {
    links[l].addEventListener("click", function (ev) {
      var a = ev.currentTarget, f = a.getAttribute("data-filter"), v = a.getAttribute("data-value");
      ev.preventDefault();  /* keep the view in the hash rather than "#findings" */
      state.sev = state.kind = state.status = state.area = state.asset = "";
      if (f === "asset") { state.asset = v; } else { state.area = "a:" + v; }
      changed();
      byId("findings").scrollIntoView();
    });
  }
  window.addEventListener("hashchange", function () { if (readHash()) { render(); } });

  var fromHash = readHash();
  render();
  if (fromHash) { byId("findings").scrollIntoView(); }
  body.setAttribute("data-report-ready", "1");
})();
