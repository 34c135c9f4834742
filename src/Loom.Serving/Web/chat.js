// Loom's chat page: streams replies from /v1/chat/completions (server-sent events over fetch), keeps the
// conversation for multi-turn chat, and renders markdown safely: every character of model text is
// HTML-escaped first; only fixed tags (pre, code, strong, em, ul, ol, li, p, br) are added afterwards.
"use strict";

const $ = (id) => document.getElementById(id);
const log = $("log"), promptBox = $("prompt"), sendButton = $("send"), stopButton = $("stop"), statusLine = $("status");
const history = [];
let controller = null;

$("api-key").value = localStorage.getItem("loom-api-key") || "";
$("api-key").addEventListener("change", () => { localStorage.setItem("loom-api-key", $("api-key").value); loadModels(); });

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function loadModels() {
  const select = $("model");
  try {
    const r = await fetch("/v1/models", { headers: headers() });
    const body = await r.json();
    if (!r.ok) throw new Error(body.error ? body.error.message : r.statusText);
    select.replaceChildren(...body.data.map((m) => {
      const o = document.createElement("option");
      o.value = m.id;
      o.textContent = m.id + (m.context_length ? " (" + m.context_length + " tokens)" : "");
      return o;
    }));
    statusLine.textContent = "";
  } catch (e) {
    statusLine.textContent = "Could not list models: " + e.message;
  }
}

function escapeHtml(s) {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

// Inline markdown on already-escaped text: `code`, **bold**, *italic*.
function inline(escaped) {
  return escaped
    .replace(/`([^`\n]+)`/g, "<code>$1</code>")
    .replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
    .replace(/(^|[^*])\*([^*\n]+)\*(?!\*)/g, "$1<em>$2</em>");
}

// Markdown to HTML from escaped text only. Fenced code blocks (``` ... ```, also unterminated while streaming),
// bullet and numbered lists, paragraphs.
function renderMarkdown(text) {
  const out = [];
  const parts = escapeHtml(text).split(/^```[^\n]*\n?/m);
  parts.forEach((part, i) => {
    if (i % 2 === 1) { out.push("<pre><code>" + part.replace(/\n$/, "") + "</code></pre>"); return; }
    let list = null;
    const para = [];
    const flush = () => { if (para.length) { out.push("<p>" + para.map(inline).join("<br>") + "</p>"); para.length = 0; } };
    const close = () => { if (list) { out.push("</" + list + ">"); list = null; } };
    for (const line of part.split("\n")) {
      const bullet = /^\s*[-*+]\s+(.*)$/.exec(line), numbered = /^\s*\d+[.)]\s+(.*)$/.exec(line);
      const m = bullet || numbered;
      if (m) {
        flush();
        const kind = bullet ? "ul" : "ol";
        if (list !== kind) { close(); out.push("<" + kind + ">"); list = kind; }
        out.push("<li>" + inline(m[1]) + "</li>");
      } else if (line.trim() === "") { flush(); close(); }
      else { close(); para.push(line); }
    }
    flush();
    close();
  });
  return out.join("");
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "msg " + role;
  if (role === "user") div.textContent = text;
  else div.innerHTML = renderMarkdown(text);
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
  return div;
}

async function send() {
  const text = promptBox.value.trim();
  if (!text || controller) return;
  promptBox.value = "";
  history.push({ role: "user", content: text });
  addMessage("user", text);
  const bubble = addMessage("assistant", "");
  bubble.dataset.state = "streaming";
  controller = new AbortController();
  sendButton.disabled = true;
  stopButton.disabled = false;
  let reply = "", finish = null;
  const started = performance.now();
  try {
    const r = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), signal: controller.signal,
      body: JSON.stringify({
        model: $("model").value || undefined, messages: history, stream: true, stream_options: { include_usage: true },
        temperature: Number($("temperature").value), max_tokens: Number($("max-tokens").value),
      }),
    });
    if (!r.ok) {
      const body = await r.json().catch(() => ({}));
      throw new Error(body.error ? body.error.message : r.status + " " + r.statusText);
    }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", usage = null, done = false;
    while (!done) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data: ")) continue;
          const data = line.slice(6);
          if (data === "[DONE]") { done = true; break; }
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          if (chunk.usage) usage = chunk.usage;
          for (const c of chunk.choices || []) {
            if (c.delta && c.delta.content) reply += c.delta.content;
            if (c.finish_reason) finish = c.finish_reason;
          }
          bubble.innerHTML = renderMarkdown(reply);
          log.scrollTop = log.scrollHeight;
        }
      }
    }
    const secs = (performance.now() - started) / 1000;
    statusLine.textContent = usage
      ? `${usage.completion_tokens} tokens in ${secs.toFixed(1)} s (${(usage.completion_tokens / secs).toFixed(0)} tokens/s), prompt ${usage.prompt_tokens} (${usage.prompt_tokens_details ? usage.prompt_tokens_details.cached_tokens : 0} cached), finish: ${finish}`
      : "";
  } catch (e) {
    if (e.name === "AbortError") statusLine.textContent = "Stopped.";
    else {
      bubble.classList.add("error");
      bubble.textContent = (reply ? reply + "\n\n" : "") + "Error: " + e.message;
    }
  } finally {
    history.push({ role: "assistant", content: reply });
    bubble.dataset.state = "done";
    controller = null;
    sendButton.disabled = false;
    stopButton.disabled = true;
  }
}

$("composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
promptBox.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send(); } });
stopButton.addEventListener("click", () => { if (controller) controller.abort(); });
$("clear").addEventListener("click", () => { if (controller) controller.abort(); history.length = 0; log.replaceChildren(); statusLine.textContent = ""; });
loadModels();
