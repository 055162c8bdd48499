/// `/docs`: a readable page of the contract that works offline. Plain HTML and a little script that renders
/// `/openapi.json`: no CDN, no framework.
enum DocsPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Switchboard API</title>
    <style>
      body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f7f8fa; }
      header { background: #1d2330; color: #fff; padding: 1.2rem 2rem; }
      header h1 { margin: 0; font-size: 1.4rem; }
      main { max-width: 980px; margin: 0 auto; padding: 1rem 2rem 4rem; }
      .intro { white-space: pre-wrap; }
      h2 { margin-top: 2rem; border-bottom: 1px solid #d5d9e0; }
      details.op { background: #fff; border: 1px solid #d5d9e0; border-radius: 6px; margin: .5rem 0; }
      details.op > summary { cursor: pointer; padding: .5rem .8rem; list-style: none; display: flex; gap: .8rem; align-items: baseline; }
      .method { font: bold 12px monospace; color: #fff; border-radius: 3px; padding: 2px 6px; min-width: 52px; text-align: center; }
      .get { background: #2f7d32; } .post { background: #1b5fa8; } .put { background: #8a5a00; } .patch { background: #6b3fa0; } .delete { background: #b3261e; }
      .path { font-family: monospace; font-weight: bold; }
      .lock { color: #8a5a00; font-size: 12px; }
      .body { padding: 0 1rem 1rem; }
      table { border-collapse: collapse; width: 100%; margin: .4rem 0; }
      td, th { border-top: 1px solid #e6e8ec; padding: .25rem .5rem; text-align: left; vertical-align: top; }
      code, .type { font-family: monospace; font-size: 13px; }
      .req { color: #b3261e; font-size: 12px; }
      .desc { white-space: pre-wrap; }
    </style>
    </head>
    <body>
    <header><h1 id="title">Switchboard API</h1><div id="version"></div></header>
    <main><p>Loading <a href="/openapi.json">/openapi.json</a>…</p></main>
    <script>
    const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]))
      .replace(/`([^`]+)`/g, "<code>$1</code>");
    let spec;
    const deref = s => { while (s && s.$ref) s = s.$ref.split("/").slice(1).reduce((o, k) => o[k], spec); return s || {}; };
    const typeOf = s => {
      if (s.$ref) return `<a href="#schema-${s.$ref.split("/").pop()}">${s.$ref.split("/").pop()}</a>`;
      if (s.type === "array") return typeOf(s.items || {}) + "[]";
      let t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type || "any");
      if (s.format) t += ` (${s.format})`;
      if (s.enum) t += ": " + s.enum.map(v => `<code>${esc(v)}</code>`).join(", ");
      return t;
    };
    const props = schema => {
      const s = deref(schema), req = new Set(s.required || []);
      const rows = Object.entries(s.properties || {}).map(([name, p]) =>
        `<tr><td><code>${esc(name)}</code>${req.has(name) ? ' <span class="req">required</span>' : ""}</td>` +
        `<td class="type">${typeOf(p)}</td><td class="desc">${esc(deref(p).description || p.description || "")}</td></tr>`);
      const extra = s.additionalProperties === false ? "<p>Other fields are rejected with 400.</p>" : "";
      return rows.length ? `<table>${rows.join("")}</table>${extra}` : "";
    };
    const render = () => {
      document.getElementById("title").textContent = spec.info.title;
      document.getElementById("version").textContent = "version " + spec.info.version;
      let out = `<p class="intro">${esc(spec.info.description || "")}</p>`;
      const byTag = {};
      for (const [path, item] of Object.entries(spec.paths))
        for (const [method, op] of Object.entries(item))
          (byTag[(op.tags || ["Other"])[0]] ||= []).push({path, method, op});
      for (const [tag, ops] of Object.entries(byTag)) {
        out += `<h2>${esc(tag)}</h2>`;
        for (const {path, method, op} of ops) {
          const secured = (op.security ?? spec.security ?? []).length > 0;
          out += `<details class="op"><summary><span class="method ${method}">${method.toUpperCase()}</span>` +
            `<span class="path">${esc(path)}</span><span>${esc(op.summary || "")}</span>` +
            (secured ? '<span class="lock">bearer token</span>' : "") + `</summary><div class="body">`;
          if (op.description) out += `<p class="desc">${esc(op.description)}</p>`;
          const params = (op.parameters || []).map(deref);
          if (params.length) out += "<h4>Parameters</h4><table>" + params.map(p =>
            `<tr><td><code>${esc(p.name)}</code> <small>${p.in}</small>${p.required ? ' <span class="req">required</span>' : ""}</td>` +
            `<td class="type">${typeOf(p.schema || {})}</td><td>${esc(p.description || "")}</td></tr>`).join("") + "</table>";
          for (const [type, media] of Object.entries(op.requestBody?.content || {}))
            out += `<h4>Body <code>${esc(type)}</code></h4>` + props(media.schema);
          out += "<h4>Responses</h4><table>" + Object.entries(op.responses).map(([code, r]) => {
            r = deref(r);
            const media = Object.entries(r.content || {})[0];
            return `<tr><td><code>${code}</code></td><td>${esc(r.description || "")}</td>` +
              `<td class="type">${media ? esc(media[0]) + " " + typeOf(media[1].schema || {}) : ""}</td></tr>`;
          }).join("") + "</table></div></details>";
        }
      }
      out += "<h2>Schemas</h2>";
      for (const [name, schema] of Object.entries(spec.components.schemas))
        out += `<h3 id="schema-${esc(name)}">${esc(name)}</h3>` + (props(schema) || `<p class="type">${typeOf(schema)}</p>`);
      document.querySelector("main").innerHTML = out;
    };
    fetch("/openapi.json").then(r => r.json()).then(s => { spec = s; render(); })
      .catch(e => { document.querySelector("main").textContent = "Could not load /openapi.json: " + e; });
    </script>
    </body>
    </html>
    """#
}
