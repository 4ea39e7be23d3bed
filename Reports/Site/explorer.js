// The attention explorer of one model: its prompts' tokens, every head's pattern, and a layer × head grid of the
// detector scores over these prompts. Written by Reports/Site/ReportSite.cs; no framework, nothing from the network.
//
// window.EXPLORER: { model, layers, heads, prompts: [{ text, length, script }],
//                    detectors: [{ name, definition, flagRule, values[layer][head], flagged[layer][head] }] }
// Each prompt's script calls Explorer.promptLoaded(index, { tokens, weights }); weights is base64 of little-endian
// 16-bit fractions of 1, laid out [layer, head, query, key].
"use strict";

const Explorer = (() => {
  const data = window.EXPLORER;
  const state = { prompt: 0, layer: 0, head: 0, query: null, pinned: false, detector: 0 };
  const loaded = {}; // prompt index -> { tokens, weights: Float64Array }
  const $ = (id) => document.getElementById(id);

  function decode(base64) {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const view = new DataView(bytes.buffer);
    const weights = new Float64Array(bytes.length / 2);
    for (let i = 0; i < weights.length; i++) weights[i] = view.getUint16(2 * i, true) / 65535;
    return weights;
  }

  // A[layer, head][query, key] of a loaded prompt.
  function weight(prompt, layer, head, query, key) {
    const n = prompt.tokens.length;
    return prompt.weights[((layer * data.heads + head) * n + query) * n + key];
  }

  // GPT-2's byte-level pieces mark a leading space with Ġ and a newline with Ċ.
  function shown(token) {
    return token.replace(/\u0120/g, " ").replace(/\u010a/g, "\u21b5");
  }

  // Light to dark blue for a value in [0, 1].
  function colour(t) {
    const x = Math.max(0, Math.min(1, t));
    return `hsl(217, 85%, ${Math.round(97 - 57 * x)}%)`;
  }

  function fill(select, items) {
    select.replaceChildren(...items.map(([value, text]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      return option;
    }));
  }

  function range(n) {
    return Array.from({ length: n }, (_, i) => i);
  }

  function loadPrompt(index) {
    state.prompt = index;
    state.query = null;
    state.pinned = false;
    document.body.dataset.ready = "false";
    if (loaded[index]) return render();
    const script = document.createElement("script");
    script.src = data.prompts[index].script;
    script.onerror = () => fail(`could not load ${data.prompts[index].script}`);
    document.body.appendChild(script);
  }

  function promptLoaded(index, payload) {
    loaded[index] = { tokens: payload.tokens, weights: decode(payload.weights) };
    if (index === state.prompt) render();
  }

  function fail(message) {
    const banner = document.createElement("p");
    banner.className = "error";
    banner.textContent = message;
    document.querySelector("main").prepend(banner);
  }

  function selectHead(layer, head) {
    state.layer = layer;
    state.head = head;
    $("layer").value = layer;
    $("head").value = head;
    render();
  }

  function setQuery(query, pin) {
    if (pin) {
      state.pinned = !(state.pinned && state.query === query);
      state.query = state.pinned ? query : null;
    } else if (!state.pinned) {
      state.query = query;
    }
    render();
  }

  function renderTokens(prompt) {
    const tokens = $("tokens");
    tokens.replaceChildren(...prompt.tokens.map((token, key) => {
      const span = document.createElement("span");
      span.className = "token";
      span.dataset.index = key;
      span.textContent = shown(token);
      if (state.query !== null) {
        const w = weight(prompt, state.layer, state.head, state.query, key);
        span.dataset.weight = w;
        span.style.background = colour(w);
        span.style.color = w > 0.6 ? "white" : "";
        span.title = `L${state.layer}H${state.head}: ${w.toFixed(4)} from “${shown(prompt.tokens[state.query])}”`;
        if (key === state.query) span.classList.add("query");
      }
      span.addEventListener("mouseenter", () => setQuery(key, false));
      span.addEventListener("click", () => setQuery(key, true));
      return span;
    }));
    $("query-note").textContent = state.query === null
      ? "Hover over a token to see where the selected head attends from it; click to keep it."
      : `From “${shown(prompt.tokens[state.query])}” (position ${state.query})${state.pinned ? ", kept: click it again to release" : ""}.`;
  }

  function renderPattern(prompt) {
    $("selected").textContent = `L${state.layer}H${state.head}`;
    const canvas = $("pattern");
    const n = prompt.tokens.length;
    const cell = Math.max(1, Math.floor(360 / n));
    canvas.width = canvas.height = cell * n;
    const context = canvas.getContext("2d");
    for (let q = 0; q < n; q++) {
      for (let k = 0; k < n; k++) {
        context.fillStyle = colour(weight(prompt, state.layer, state.head, q, k));
        context.fillRect(k * cell, q * cell, cell, cell);
      }
    }
    if (state.query !== null) {
      context.strokeStyle = "#d97706";
      context.lineWidth = 2;
      context.strokeRect(1, state.query * cell + 1, n * cell - 2, cell - 2);
    }
    canvas.onmousemove = (event) => {
      const box = canvas.getBoundingClientRect();
      const q = Math.floor((event.clientY - box.top) / box.height * n);
      const k = Math.floor((event.clientX - box.left) / box.width * n);
      if (q < 0 || k < 0 || q >= n || k >= n) return;
      $("pattern-readout").textContent =
        `query ${q} “${shown(prompt.tokens[q])}” → key ${k} “${shown(prompt.tokens[k])}”: ${weight(prompt, state.layer, state.head, q, k).toFixed(4)}`;
    };
    $("pattern-readout").textContent = "Rows are queries, columns keys; point at a cell to read its weight.";
  }

  function renderHeadsFrom(prompt) {
    $("from-layer").textContent = state.layer;
    $("from-token").textContent = state.query === null ? "—" : `“${shown(prompt.tokens[state.query])}”`;
    const table = $("heads-from");
    if (state.query === null) {
      table.innerHTML = "<tr><td>Hover over or click a token.</td></tr>";
      return;
    }
    const header = "<thead><tr><th>head</th><th>most attended keys</th></tr></thead>";
    const rows = range(data.heads).map((head) => {
      const keys = range(prompt.tokens.length)
        .map((key) => ({ key, w: weight(prompt, state.layer, head, state.query, key) }))
        .sort((a, b) => b.w - a.w || a.key - b.key);
      const row = document.createElement("tr");
      row.dataset.head = head;
      row.dataset.topKey = keys[0].key;
      row.dataset.topWeight = keys[0].w;
      if (head === state.head) row.className = "selected";
      const name = document.createElement("td");
      name.textContent = `H${head}`;
      const top = document.createElement("td");
      top.textContent = keys.slice(0, 3).map((k) => `${shown(prompt.tokens[k.key])} (${k.w.toFixed(2)})`).join("  ");
      row.append(name, top);
      row.addEventListener("click", () => selectHead(state.layer, head));
      return row;
    });
    table.innerHTML = header;
    const body = document.createElement("tbody");
    body.append(...rows);
    table.append(body);
  }

  function renderGrid() {
    const detector = data.detectors[state.detector];
    const table = $("grid");
    if (!detector) {
      table.innerHTML = "<tr><td>No detector scores.</td></tr>";
      return;
    }
    const finite = detector.values.flat().filter((v) => v !== null);
    const low = Math.min(0, ...finite);
    const high = Math.max(1e-9, ...finite);
    const head = document.createElement("tr");
    head.append(document.createElement("th"), ...range(data.heads).map((h) => {
      const th = document.createElement("th");
      th.textContent = `H${h}`;
      return th;
    }));
    const rows = range(data.layers).map((layer) => {
      const row = document.createElement("tr");
      const label = document.createElement("th");
      label.textContent = `L${layer}`;
      row.append(label, ...range(data.heads).map((h) => {
        const value = detector.values[layer][h];
        const td = document.createElement("td");
        td.dataset.layer = layer;
        td.dataset.head = h;
        td.dataset.score = value === null ? "" : value;
        td.textContent = value === null ? "–" : value.toFixed(2);
        td.title = `L${layer}H${h} ${detector.name}: ${value === null ? "undefined" : value}${detector.flagged[layer][h] ? " (flagged)" : ""}; click to open its pattern`;
        if (value !== null) {
          const t = (value - low) / (high - low);
          td.style.background = colour(t);
          td.style.color = t > 0.6 ? "white" : "";
        }
        if (detector.flagged[layer][h]) td.classList.add("flagged");
        if (layer === state.layer && h === state.head) td.classList.add("selected");
        td.addEventListener("click", () => selectHead(layer, h));
        return td;
      }));
      return row;
    });
    table.replaceChildren(head, ...rows);
    $("definition").textContent = `${detector.definition}. Flagged (outlined): ${detector.flagRule}.`;
  }

  function render() {
    const prompt = loaded[state.prompt];
    if (!prompt) return;
    renderTokens(prompt);
    renderPattern(prompt);
    renderHeadsFrom(prompt);
    renderGrid();
    document.body.dataset.ready = "true";
  }

  function start() {
    fill($("prompt"), data.prompts.map((p, i) => [i, `${i + 1}: ${p.text.length > 70 ? p.text.slice(0, 70) + "…" : p.text} (${p.length} tokens)`]));
    fill($("layer"), range(data.layers).map((l) => [l, `L${l}`]));
    fill($("head"), range(data.heads).map((h) => [h, `H${h}`]));
    fill($("detector"), data.detectors.map((d, i) => [i, d.name]));
    $("prompt").addEventListener("change", (e) => loadPrompt(Number(e.target.value)));
    $("layer").addEventListener("change", (e) => selectHead(Number(e.target.value), state.head));
    $("head").addEventListener("change", (e) => selectHead(state.layer, Number(e.target.value)));
    $("detector").addEventListener("change", (e) => { state.detector = Number(e.target.value); renderGrid(); });
    $("tokens").addEventListener("mouseleave", () => { if (!state.pinned) setQuery(null, false); });
    loadPrompt(0);
  }

  window.addEventListener("DOMContentLoaded", start);
  return { promptLoaded };
})();
