/** The service's web page (served at `/`): markup and style; its script is ./app.ts, compiled by tsc. No CDN. */

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>robustify — defended re-identification</title>
<link rel="stylesheet" href="/app.css">
<link rel="icon" href="data:,">
</head>
<body>
<header>
  <h1>robustify <span>defended face re-identification</span></h1>
  <div id="config" class="muted">connecting…</div>
</header>
<main>
  <section id="input-panel">
    <h2>1 · A photo</h2>
    <label id="drop" for="file">Drop a photo here or <u>pick one</u><input id="file" type="file" accept="image/png,image/jpeg,image/webp"></label>
    <div class="row"><button id="webcam" type="button">Use the webcam</button><button id="snap" type="button" hidden>Take the picture</button></div>
    <video id="video" autoplay playsinline muted hidden></video>
    <div id="stage"><canvas id="canvas" width="640" height="360"></canvas></div>
    <div class="row">
      <label>Pipeline <select id="pipeline"></select></label>
      <label><input id="compare" type="checkbox" checked> compare with the undefended model</label>
      <button id="identify" type="button" disabled>Identify</button>
    </div>
    <ol id="faces"></ol>
  </section>
  <section id="gallery-panel">
    <h2>2 · The gallery</h2>
    <div class="row"><label>API key <input id="key" type="password" autocomplete="off" placeholder="needed to enrol and attack"></label></div>
    <div class="row"><label>Identity <input id="identity-name" placeholder="e.g. alice" pattern="[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}"></label><button id="enrol" type="button" disabled>Enrol the largest face</button></div>
    <ul id="gallery-list"></ul>
  </section>
  <section id="attack-panel" hidden>
    <h2>3 · Red team: attack the largest face</h2>
    <div class="row">
      <label>Against <select id="against"><option value="bare">the bare model</option><option value="defended">the defended model (BPDA)</option></select></label>
      <label>eps <input id="eps" type="number" value="4" min="0.5" max="32" step="0.5"></label>
      <label>iterations <input id="iters" type="number" value="10" min="1" max="50"></label>
      <button id="attack" type="button" disabled>Attack</button>
    </div>
    <div id="attack-result"></div>
  </section>
</main>
<footer><span id="status" role="status"></span> · <a href="/docs">API (OpenAPI)</a></footer>
<script type="module" src="/app.js"></script>
</body>
</html>
`;

export const PAGE_CSS = `
:root { --ok: #1a7f37; --bad: #c62828; --muted: #667; --line: #d0d4dc; font-family: system-ui, sans-serif; }
body { margin: 0; background: #f6f7f9; color: #1d1f24; }
header { display: flex; justify-content: space-between; align-items: baseline; padding: 12px 20px; background: #1d2330; color: #fff; }
header h1 { font-size: 20px; margin: 0; } header h1 span { font-weight: 400; opacity: .75; font-size: 15px; }
header .muted { color: #c8cfdc; font-size: 13px; }
main { display: grid; grid-template-columns: 3fr 2fr; gap: 16px; padding: 16px 20px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
#attack-panel { grid-column: 1 / -1; }
h2 { font-size: 16px; margin: 0 0 10px; }
.row { display: flex; flex-wrap: wrap; gap: 10px; align-items: center; margin: 8px 0; }
#drop { display: block; border: 2px dashed var(--line); border-radius: 8px; padding: 18px; text-align: center; cursor: pointer; color: var(--muted); }
#drop.over { border-color: #3b6fd8; background: #eef3ff; }
#drop input { display: none; }
#stage canvas { max-width: 100%; border-radius: 6px; background: #e9ebef; }
video { max-width: 100%; }
button { padding: 6px 12px; border-radius: 6px; border: 1px solid #3b6fd8; background: #3b6fd8; color: #fff; cursor: pointer; }
button:disabled { opacity: .45; cursor: default; }
#faces li, #gallery-list li { margin: 4px 0; }
.same { color: var(--ok); font-weight: 600; } .different { color: var(--bad); } .muted { color: var(--muted); }
.pair { display: grid; grid-template-columns: repeat(3, auto) 1fr 1fr; gap: 12px; align-items: start; }
.pair figure { margin: 0; text-align: center; } .pair img { width: 150px; height: 150px; image-rendering: pixelated; border-radius: 4px; }
.answer { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; }
.answer h3 { font-size: 14px; margin: 0 0 6px; }
footer { padding: 8px 20px 16px; color: var(--muted); font-size: 13px; }
#status.error { color: var(--bad); }
`;
