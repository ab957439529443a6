// The importer page: choose a file, match its columns, review a dry run,
// import with live progress, undo; the history below. Plain JavaScript, no
// build step. Every value from a file or the server goes into the page with
// textContent (never innerHTML), so a cell holding markup stays text.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const KEY = "sheetpipe.key";
  const NEW = ""; // the "new table" option (no table has an empty name)
  const IGNORE = "-";
  const state = {
    file: null, preview: null, tables: [], modes: false, undo: false,
    importId: null, streamAbort: null,
    undone: {}, // import id → what its undo did (shown in its history row)
  };

  // ---- small DOM helpers (text only) ----
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) e.setAttribute(k, v);
    }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function show(id, on) { $(id).hidden = !on; }
  function say(id, text) { $(id).textContent = text || ""; }

  // ---- talking to the service ----
  function authHeaders() {
    const key = sessionStorage.getItem(KEY);
    return key ? { Authorization: "Bearer " + key } : {};
  }
  class ApiError extends Error {
    constructor(status, body) {
      const msg = (body && body.error) || ("HTTP " + status);
      const detail = body && body.detail ? " (" + body.detail + ")" : "";
      super(msg + detail);
      this.status = status;
      this.body = body;
    }
  }
  async function parse(res) {
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { body = { error: text }; }
    if (res.status === 401) askForKey(body);
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  }
  async function api(method, path, json) {
    const init = { method, headers: authHeaders(), credentials: "omit" };
    if (json !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(json);
    }
    return parse(await fetch(path, init));
  }
  // A multipart upload with XMLHttpRequest, for its upload progress.
  function uploadFile(path, file, bar) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      xhr.withCredentials = false;
      for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
      xhr.upload.onprogress = (e) => {
        if (bar && e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
      };
      xhr.onload = () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (_) { body = { error: xhr.responseText }; }
        if (xhr.status === 401) askForKey(body);
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else reject(new ApiError(xhr.status, body));
      };
      xhr.onerror = () => reject(new ApiError(0, { error: "The service could not be reached" }));
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });
  }
  // Server-Sent Events over fetch (EventSource cannot send a header).
  async function followEvents(id, onEvent) {
    const abort = new AbortController();
    state.streamAbort = abort;
    const res = await fetch("/imports/" + encodeURIComponent(id) + "/events", {
      headers: authHeaders(), credentials: "omit", signal: abort.signal,
    });
    if (!res.ok) return parse(res);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return null;
      buf += decoder.decode(value, { stream: true });
      let at;
      while ((at = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) name = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (!data.length) continue;
        const payload = JSON.parse(data.join("\n"));
        onEvent(name, payload);
        if (name === "done") { abort.abort(); return payload; }
      }
    }
  }

  // ---- API key ----
  function askForKey(body) {
    show("auth", true);
    say("auth-why", (body && body.error) || "This service needs an API key.");
    $("api-key").focus();
  }
  $("auth-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $("api-key").value.trim());
    $("api-key").value = "";
    show("auth", false);
    start();
  });

  // ---- 1. choose ----
  async function loadTables() {
    const sel = $("table");
    const keep = sel.value;
    const body = await api("GET", "/tables");
    state.tables = body.tables || [];
    clear(sel);
    for (const t of state.tables) sel.appendChild(el("option", { value: t.name }, t.name));
    sel.appendChild(el("option", { value: NEW }, "New table…"));
    if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
    show("new-name-box", sel.value === NEW);
  }
  async function loadModes() {
    // Modes are offered once the service knows mode= (its contract says).
    try {
      const spec = await api("GET", "/openapi.json");
      const post = spec.paths["/imports"] && spec.paths["/imports"].post;
      state.modes = !!(post && (post.parameters || []).some((p) => p.name === "mode"));
      // Undo likewise: offered once the contract has its route.
      state.undo = !!spec.paths["/imports/{id}/undo"];
    } catch (_) { state.modes = false; state.undo = false; }
    for (const o of $("mode").options) o.disabled = !state.modes && o.value !== "append";
    say("mode-note", state.modes ? "" : "This service appends only; the other modes need a newer sheetpipe.");
  }
  function targetTable() {
    const v = $("table").value;
    if (v === NEW) return { name: $("new-name").value.trim(), create: true };
    return { name: v, create: false };
  }
  function chooseFile(file) {
    if (!file) return;
    state.file = file;
    say("file-name", file.name + " (" + Math.ceil(file.size / 1024) + " KiB)");
    if ($("table").value === NEW && !$("new-name").value) {
      $("new-name").value = file.name.replace(/\.[^.]*$/, "").toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "") || "imported";
    }
    runPreview(true);
  }
  $("file").addEventListener("change", () => chooseFile($("file").files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    chooseFile(e.dataTransfer.files[0]);
  });
  $("sheet").addEventListener("change", () => runPreview(false));
  $("table").addEventListener("change", () => {
    show("new-name-box", $("table").value === NEW);
    if (state.file) chooseFile(state.file);
  });
  $("new-name").addEventListener("change", () => runPreview(false));

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
    return q.toString();
  }
  async function runPreview(fresh) {
    if (!state.file) return;
    say("choose-error", "");
    const t = targetTable();
    if (!t.name) { say("choose-error", "Give the new table a name."); return; }
    show("upload-box", true);
    $("upload-progress").value = 0;
    const sheet = fresh ? "" : $("sheet").value;
    try {
      const p = await uploadFile("/preview?" + query({ sheet, table: t.name }), state.file, $("upload-progress"));
      state.preview = p;
      fillSheets(p);
      fillMapping(p);
      show("match", true);
      show("review", false);
      show("import", false);
    } catch (e) {
      say("choose-error", e.message);
      show("match", false);
    } finally {
      show("upload-box", false);
    }
  }
  function fillSheets(p) {
    const sel = $("sheet");
    clear(sel);
    for (const s of p.sheets) sel.appendChild(el("option", { value: s }, s));
    sel.value = p.sheet;
    show("sheet-box", p.sheets.length > 1);
  }

  // ---- 2. match ----
  function fillMapping(p) {
    const body = $("mapping").querySelector("tbody");
    clear(body);
    const saved = p.saved_mapping || null;
    const created = !p.table_exists;
    say("match-info", created
      ? "A new table " + p.table.name + " will be created with these columns (types inferred from the first rows); rename them, change their types or leave some out."
      : "Header row " + p.header_row + " of " + (p.sheet || "the file") + (saved ? "; the matching saved for these headers is filled in." : "; matched by names and aliases."));
    p.columns.forEach((c, i) => {
      if (!c.header) return;
      const tr = el("tr", { "data-testid": "mapping-row" });
      tr.appendChild(el("th", { scope: "row" }, c.header + " (" + c.letter + ")"));
      const td = el("td");
      if (created) {
        // A new table: each column's name is editable, or left out.
        const col = p.table.columns.find((x) => x.name === c.suggested);
        const name = el("input", { type: "text", "aria-label": "Column name for " + c.header, "data-new-header": c.header, "data-inferred": col ? col.name : "" });
        name.value = col ? col.name : "";
        // Its type: the inferred one, or any type the service can create.
        const inferredType = col ? col.type : "text";
        const type = el("select", { "aria-label": "Column type for " + c.header, "data-type-header": c.header, "data-inferred-type": inferredType });
        const types = (p.column_types || []).slice();
        if (!types.includes(inferredType)) types.unshift(inferredType);
        for (const t of types) type.appendChild(el("option", { value: t }, t + (t === inferredType ? " (inferred)" : "")));
        type.value = inferredType;
        const keep = el("input", { type: "checkbox", id: "keep-" + i, "data-keep-header": c.header });
        keep.checked = !!col;
        const keepLabel = el("label", { for: "keep-" + i, class: "inline" }, col ? "import" : "import (no data)");
        name.addEventListener("input", checkMapping);
        keep.addEventListener("change", () => { type.disabled = !keep.checked; checkMapping(); });
        type.disabled = !keep.checked;
        td.append(name, type, keep, keepLabel);
      } else {
        const sel = el("select", { "aria-label": "Table column for " + c.header, "data-header": c.header });
        sel.appendChild(el("option", { value: IGNORE }, "— ignore —"));
        for (const col of p.table.columns) {
          const label = col.name + " (" + col.type + (col.required ? ", required" : "") + ")";
          sel.appendChild(el("option", { value: col.name }, label));
        }
        const chosen = saved && Object.prototype.hasOwnProperty.call(saved, c.header) ? saved[c.header] : c.suggested;
        sel.value = chosen && [...sel.options].some((o) => o.value === chosen) ? chosen : IGNORE;
        sel.addEventListener("change", checkMapping);
        td.appendChild(sel);
      }
      tr.appendChild(td);
      const first = p.rows.length ? p.rows[0].cells[i] : "";
      tr.appendChild(el("td", {}, first));
      body.appendChild(tr);
    });
    checkMapping();
    if (p.error && created) say("match-error", p.error);
  }
  function chosenMapping() {
    const out = {};
    for (const sel of $("mapping").querySelectorAll("select[data-header]")) out[sel.dataset.header] = sel.value;
    return out;
  }
  // For a new table: the renamed and the left-out columns only.
  function newTableMapping() {
    const out = {};
    for (const name of $("mapping").querySelectorAll("input[data-new-header]")) {
      const h = name.dataset.newHeader;
      const keep = $("mapping").querySelector("input[data-keep-header=\"" + CSS.escape(h) + "\"]");
      if (!keep.checked) out[h] = IGNORE;
      else if (name.value.trim() !== name.dataset.inferred) out[h] = name.value.trim();
    }
    return out;
  }
  // For a new table: `name:type` of each kept column whose type was changed.
  function typesParam() {
    if (state.preview.table_exists) return "";
    const out = [];
    for (const type of $("mapping").querySelectorAll("select[data-type-header]")) {
      const h = type.dataset.typeHeader;
      const keep = $("mapping").querySelector("input[data-keep-header=\"" + CSS.escape(h) + "\"]");
      const name = $("mapping").querySelector("input[data-new-header=\"" + CSS.escape(h) + "\"]");
      if (keep.checked && type.value !== type.dataset.inferredType) out.push(name.value.trim() + ":" + type.value);
    }
    return out.join(",");
  }
  function checkMapping() {
    const p = state.preview;
    let problem = "";
    if (p.table_exists) {
      const m = chosenMapping();
      const used = Object.values(m).filter((v) => v !== IGNORE);
      const missing = p.table.columns.filter((c) => c.required && !used.includes(c.name)).map((c) => c.name);
      const twice = used.filter((v, i) => used.indexOf(v) !== i);
      if (missing.length) problem = "Required column" + (missing.length > 1 ? "s " : " ") + missing.join(", ") + " must be matched to a file column before importing.";
      else if (twice.length) problem = "Each table column can be filled from one file column only: " + [...new Set(twice)].join(", ") + ".";
      else if (Object.keys(m).some((h) => h.includes(","))) problem = "A header containing a comma cannot be matched; rename it in the file.";
    } else if (p.error) {
      problem = p.error;
    } else {
      const names = [...$("mapping").querySelectorAll("input[data-new-header]")]
        .filter((n) => $("mapping").querySelector("input[data-keep-header=\"" + CSS.escape(n.dataset.newHeader) + "\"]").checked)
        .map((n) => n.value.trim().toLowerCase());
      if (names.some((n) => !n)) problem = "Every imported column needs a name.";
      else if (!names.length) problem = "Import at least one column.";
      else if (names.some((n, i) => names.indexOf(n) !== i)) problem = "Two columns cannot have the same name.";
      else if (names.some((n) => n.includes(",") || n.includes("="))) problem = "A column name cannot contain a comma or =.";
    }
    say("match-error", problem);
    $("to-review").disabled = !!problem;
    return !problem;
  }
  function mapParam() {
    const m = state.preview.table_exists ? chosenMapping() : newTableMapping();
    return Object.entries(m).map(([h, c]) => h + "=" + c).join(",");
  }
  function importQuery(extra) {
    const t = targetTable();
    const mode = $("mode").value;
    return query(Object.assign({
      sheet: state.preview.sheet,
      table: t.name,
      create: t.create ? "true" : "",
      map: mapParam(),
      types: t.create ? typesParam() : "",
      mode: state.modes && mode !== "append" ? mode : "",
    }, extra));
  }

  // ---- 3. review ----
  $("to-review").addEventListener("click", review);
  $("back").addEventListener("click", () => {
    show("review", false);
    const first = $("mapping").querySelector("select");
    if (first) first.focus();
  });
  async function review() {
    if (!checkMapping()) return;
    say("review-error", "");
    say("review-summary", "");
    say("review-ddl", "");
    show("review-ddl", false);
    clear($("review-rejected"));
    show("review", true);
    show("review-box", true);
    $("review-progress").value = 0;
    $("start-import").disabled = true;
    const t = targetTable();
    try {
      if (state.preview.table_exists) {
        await api("PUT", "/mappings", { table: t.name, headers: state.preview.headers, mapping: chosenMapping() });
      }
      const judged = await uploadFile("/preview?" + query({ sheet: state.preview.sheet, table: t.name, map: mapParam(), types: typesParam() }), state.file, null);
      fillReviewRows(judged);
      const accepted = await uploadFile("/imports?" + importQuery({ dry_run: "true" }), state.file, $("review-progress"));
      $("review-progress").value = 0;
      const done = await followEvents(accepted.id, (name, ev) => {
        if (name === "progress") $("review-progress").value = percent(ev.progress, $("review-progress"));
      });
      const final = done || (await api("GET", "/imports/" + accepted.id));
      $("review-progress").value = 100;
      const s = final.stats || {};
      const bad = s.error_count || 0;
      say("review-summary", (s.total_records || 0) + " rows checked: " + (s.success_count || 0) + " valid, " + bad + " will be rejected." + (final.error ? " " + final.error : ""));
      // A new table: the CREATE TABLE the import will run, as the dry run
      // inferred it from every row (a type may widen past the first rows).
      say("review-ddl", final.ddl ? "The import creates the table:\n" + final.ddl : "");
      show("review-ddl", !!final.ddl);
      const list = $("review-rejected");
      for (const r of final.rejected || []) list.appendChild(el("li", {}, r.cell + ": " + r.reason));
      if (final.rejected_truncated) list.appendChild(el("li", {}, "… and more (every one is in the reject report after the import)."));
      $("start-import").disabled = final.status === "failed" && !final.stats;
      $("start-import").focus();
    } catch (e) {
      say("review-error", e.message);
    } finally {
      show("review-box", false);
    }
  }
  function fillReviewRows(p) {
    const table = $("review-rows");
    const head = table.querySelector("thead");
    const body = table.querySelector("tbody");
    clear(head);
    clear(body);
    const tr = el("tr");
    tr.appendChild(el("th", { scope: "col" }, "Row"));
    for (const h of p.headers) tr.appendChild(el("th", { scope: "col" }, h));
    head.appendChild(tr);
    p.rows.forEach((r) => {
      const row = el("tr");
      row.appendChild(el("th", { scope: "row" }, r.row));
      r.cells.forEach((v, i) => {
        const why = r.errors[i];
        if (!why) { row.appendChild(el("td", {}, v)); return; }
        const id = "why-" + r.row + "-" + i;
        const td = el("td", { class: "invalid", tabindex: "0", title: why, "aria-describedby": id, "data-testid": "invalid-cell" }, v);
        td.appendChild(el("span", { id, class: "reason" }, why));
        row.appendChild(td);
      });
      body.appendChild(row);
    });
    if (p.error) say("review-error", p.error);
  }
  // The share of the file's rows done (inserted, updated, skipped or
  // rejected): the rows it holds are estimated from how far the reader is
  // (rows read / fraction read; exact once it has read everything), so the
  // bar follows the writers, not only the reader.
  function doneFraction(pr) {
    if (!pr || pr.fraction === null || pr.fraction === undefined || !(pr.fraction > 0)) return 0;
    const judged = (pr.inserted || 0) + (pr.updated || 0) + (pr.skipped || 0) + (pr.rejected || 0);
    const rows = pr.rows_read / pr.fraction;
    return rows > 0 ? Math.min(judged / rows, pr.fraction, 1) : 0;
  }
  // The bar's percent while the import runs: never back, and at most 99
  // (100 is shown with the result, once the import has ended).
  function percent(pr, bar) {
    const pct = Math.min(99, Math.floor(doneFraction(pr) * 100));
    return Math.max(pct, bar ? bar.value : 0);
  }

  // ---- 4. import ----
  $("start-import").addEventListener("click", runImport);
  $("cancel").addEventListener("click", async () => {
    if (!state.importId) return;
    try { await api("DELETE", "/imports/" + state.importId); } catch (e) { say("import-error", e.message); }
  });
  $("again").addEventListener("click", () => {
    show("import", false); show("review", false); show("match", false);
    $("file").value = ""; state.file = null; say("file-name", ""); $("file").focus();
  });
  async function runImport() {
    say("import-error", "");
    show("import", true);
    show("result", false);
    $("cancel").disabled = false;
    $("progress").value = 0;
    say("progress-text", "Uploading…");
    const started = Date.now();
    try {
      const accepted = await uploadFile("/imports?" + importQuery({}), state.file, $("progress"));
      state.importId = accepted.id;
      $("progress").value = 0;
      const done = await followEvents(accepted.id, (name, ev) => {
        if (name === "progress") showProgress(ev.progress, started);
      });
      const final = done || (await api("GET", "/imports/" + accepted.id));
      showResult(final);
    } catch (e) {
      say("import-error", e.message);
    }
    $("cancel").disabled = true;
    loadHistory();
  }
  function showProgress(pr, started) {
    const pct = percent(pr, $("progress"));
    $("progress").value = pct;
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    const rows = pr.rows_read || 0;
    const rate = Math.round(rows / secs);
    const f = doneFraction(pr);
    let left = "";
    if (f > 0) left = ", about " + Math.max(0, Math.round(secs * (1 - f) / f)) + " s left";
    say("progress-text", rows + " rows, " + pct + "%, " + rate + " rows/s" + left);
  }
  function showResult(final) {
    const s = final.stats || {};
    $("progress").value = 100;
    say("progress-text", final.status);
    say("result-message", final.message || final.status);
    say("result-inserted", s.success_count || 0);
    say("result-rejected", s.error_count || 0);
    const links = $("result-links");
    clear(links);
    if ((s.error_count || 0) > 0) {
      links.appendChild(reportLink(final.id, "xlsx", "rejects-download"));
      links.appendChild(reportLink(final.id, "csv", "rejects-download-csv"));
    }
    if (final.error) say("import-error", final.error);
    show("result", true);
    show("undo", state.undo);
    clear($("undo-box"));
    show("undo-box", false);
    $("undo").disabled = !undoable(final);
    if (state.undo) $("undo").focus();
  }
  // A report link; with a key, clicking fetches it with the key and saves it.
  function reportLink(id, ext, testid) {
    const href = "/imports/" + encodeURIComponent(id) + "/rejects." + ext;
    const a = el("a", { href, "data-testid": testid, download: "rejects-" + id + "." + ext }, "Rejected rows (." + ext + ")");
    a.addEventListener("click", async (e) => {
      if (!sessionStorage.getItem(KEY)) return;
      e.preventDefault();
      try {
        const res = await fetch(href, { headers: authHeaders(), credentials: "omit" });
        if (!res.ok) return parse(res);
        const url = URL.createObjectURL(await res.blob());
        const tmp = el("a", { href: url, download: "rejects-" + id + "." + ext });
        document.body.appendChild(tmp);
        tmp.click();
        tmp.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (err) { say("import-error", err.message); }
    });
    return a;
  }
  // ---- undo (the result's button and each history row's) ----
  // An import that wrote rows and has ended can be undone (docs/UNDO.md).
  function undoable(i) {
    return state.undo && !i.dry_run && ["completed", "failed", "cancelled"].includes(i.status);
  }
  function undoneText(body) {
    return "Undone: " + (body.deleted || 0) + " rows deleted, " + (body.restored || 0) + " restored" +
      (body.kept ? ", " + body.kept + " changed since left as they are" : "") + ".";
  }
  // Asks in place (inside `box`), then undoes import `id`; the outcome or
  // the service's refusal is shown in `box`. `done` runs after an undo.
  function confirmUndo(box, id, what, button, done) {
    clear(box);
    box.hidden = false;
    const ask = el("p", { id: "undo-ask-" + id }, "Undo " + what + "? Its rows are deleted and the rows it updated get their earlier values back.");
    const yes = el("button", { type: "button", "data-testid": "undo-confirm", "aria-describedby": "undo-ask-" + id }, "Yes, undo");
    const no = el("button", { type: "button", class: "secondary", "data-testid": "undo-keep" }, "Keep it");
    const row = el("div", { class: "actions" });
    row.append(yes, no);
    box.append(ask, row);
    button.disabled = true;
    yes.focus();
    no.addEventListener("click", () => { clear(box); box.hidden = true; button.disabled = false; button.focus(); });
    yes.addEventListener("click", () => runUndo(box, id, false, button, done));
  }
  async function runUndo(box, id, force, button, done) {
    clear(box);
    const out = el("p", { "data-testid": "undo-outcome", role: "status" }, "Undoing…");
    box.appendChild(out);
    try {
      const body = await api("POST", "/imports/" + encodeURIComponent(id) + "/undo" + (force ? "?force=true" : ""));
      out.textContent = undoneText(body);
      state.undone[id] = out.textContent;
      if (done) done(body);
      loadHistory();
    } catch (e) {
      out.textContent = "Not undone: " + e.message;
      out.className = "error";
      out.setAttribute("role", "alert");
      if (e.body && e.body.changed_rows) {
        // Rows changed since: undo the others only when asked to.
        const anyway = el("button", { type: "button", class: "secondary", "data-testid": "undo-force" }, "Undo the rows not changed since");
        anyway.addEventListener("click", () => runUndo(box, id, true, button, done));
        box.appendChild(anyway);
      } else {
        button.disabled = false;
      }
    }
  }
  $("undo").addEventListener("click", () => {
    confirmUndo($("undo-box"), state.importId, "this import", $("undo"), null);
  });

  // ---- 5. history ----
  $("refresh").addEventListener("click", loadHistory);
  async function loadHistory() {
    say("history-error", "");
    try {
      const body = await api("GET", "/imports?limit=20");
      const tbody = $("history-table").querySelector("tbody");
      clear(tbody);
      for (const i of body.imports) {
        const pr = i.progress || {};
        const s = i.stats || { success_count: pr.inserted, error_count: pr.rejected };
        const tr = el("tr", { "data-testid": "history-row" });
        tr.appendChild(el("td", {}, (i.created_at || "").replace("T", " ").slice(0, 19)));
        tr.appendChild(el("td", {}, i.filename));
        tr.appendChild(el("td", {}, i.table_name || i.table || ""));
        tr.appendChild(el("td", {}, i.status + (i.dry_run ? " (dry run)" : "")));
        tr.appendChild(el("td", {}, s.success_count !== undefined ? s.success_count : ""));
        tr.appendChild(el("td", {}, s.error_count !== undefined ? s.error_count : ""));
        const td = el("td");
        if (s.error_count > 0) {
          td.appendChild(reportLink(i.id, "xlsx", "history-rejects"));
          td.appendChild(reportLink(i.id, "csv", "history-rejects-csv"));
        }
        tr.appendChild(td);
        const cell = el("td");
        if (undoable(i)) {
          const button = el("button", { type: "button", class: "secondary", "data-testid": "undo", "aria-label": "Undo the import of " + i.filename + " at " + (i.created_at || "") }, "Undo");
          const box = el("div", { class: "undo-box" });
          box.hidden = true;
          button.addEventListener("click", () => confirmUndo(box, i.id, "the import of " + i.filename, button, null));
          cell.append(button, box);
        } else if (state.undone[i.id]) {
          cell.appendChild(el("span", { "data-testid": "undo-outcome" }, state.undone[i.id]));
        }
        tr.appendChild(cell);
        tbody.appendChild(tr);
      }
    } catch (e) {
      say("history-error", e.message);
    }
  }

  async function start() {
    say("choose-error", "");
    try {
      await loadTables();
      await loadModes();
      await loadHistory();
      document.body.dataset.ready = "true";
    } catch (e) {
      say("choose-error", e.message);
    }
  }
  start();
})();
