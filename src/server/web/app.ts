/**
 * The page's script (runs in the browser; compiled by tsc, no imports). It only calls the public API:
 * /v1/config, /v1/identify, /v1/identities…, /v1/attack.
 */

interface Match { identity: string; face_id: number; distance: number; same: boolean }
interface Box { x: number; y: number; width: number; height: number }
interface Face { box: Box; score: number; matches: Match[]; undefended?: Match[] }
interface Config { pipeline: string; pipelines: string[]; threshold: number; attacks: boolean; writes: boolean; model: { id: string; version: string } }

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

let photo: Blob | undefined;
let bitmap: ImageBitmap | undefined;
let config: Config | undefined;

function status(text: string, error = false): void {
  const s = $('status');
  s.textContent = text;
  s.className = error ? 'error' : '';
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  const key = $<HTMLInputElement>('key').value.trim();
  return key ? { ...extra, 'x-api-key': key } : extra;
}

async function api<T>(method: string, url: string, body?: Blob): Promise<T> {
  const res = await fetch(url, { method, body, headers: headers(body ? { 'content-type': body.type || 'application/octet-stream' } : {}) });
  const text = await res.text();
  const data = text ? JSON.parse(text) : {};
  if (!res.ok) throw new Error(data.error ?? `${res.status} ${res.statusText}`);
  return data as T;
}

function describe(m: Match | undefined): string {
  if (!m) return 'no gallery match';
  return m.same ? `${m.identity} (${m.distance.toFixed(3)})` : `unknown — nearest ${m.identity} (${m.distance.toFixed(3)})`;
}

function draw(faces: Face[] = []): void {
  const canvas = $<HTMLCanvasElement>('canvas');
  if (!bitmap) return;
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const g = canvas.getContext('2d')!;
  g.drawImage(bitmap, 0, 0);
  const line = Math.max(2, bitmap.width / 400);
  g.font = `${Math.round(line * 9)}px system-ui, sans-serif`;
  faces.forEach((f, i) => {
    const best = f.matches[0];
    g.strokeStyle = best?.same ? '#1a7f37' : '#c62828';
    g.lineWidth = line;
    g.strokeRect(f.box.x, f.box.y, f.box.width, f.box.height);
    const label = `${i + 1}: ${best?.same ? best.identity : 'unknown'}`;
    const w = g.measureText(label).width + 2 * line;
    g.fillStyle = g.strokeStyle;
    g.fillRect(f.box.x, f.box.y - line * 12, w, line * 12);
    g.fillStyle = '#fff';
    g.fillText(label, f.box.x + line, f.box.y - line * 3);
  });
}

async function usePhoto(blob: Blob): Promise<void> {
  photo = blob;
  bitmap = await createImageBitmap(blob);
  draw();
  $('faces').replaceChildren();
  $('attack-result').replaceChildren();
  for (const id of ['identify', 'enrol', 'attack']) $<HTMLButtonElement>(id).disabled = false;
  status(`photo ${bitmap.width}×${bitmap.height}`);
}

async function identify(): Promise<void> {
  if (!photo) return;
  status('identifying…');
  const pipeline = $<HTMLSelectElement>('pipeline').value;
  const compare = $<HTMLInputElement>('compare').checked;
  const r = await api<{ faces: Face[]; pipeline: string }>('POST', `/v1/identify?pipeline=${encodeURIComponent(pipeline)}&k=3${compare ? '&compare=true' : ''}`, photo);
  draw(r.faces);
  $('faces').replaceChildren(
    ...r.faces.map((f, i) => {
      const li = document.createElement('li');
      const best = f.matches[0];
      li.innerHTML = `<b>face ${i + 1}</b>: <span class="${best?.same ? 'same' : 'different'}">${describe(best)}</span>`;
      if (f.undefended) li.innerHTML += ` <span class="muted">· undefended: ${describe(f.undefended[0])}</span>`;
      return li;
    }),
  );
  status(`${r.faces.length} face(s) through ${r.pipeline}`);
}

async function enrol(): Promise<void> {
  if (!photo) return;
  const id = $<HTMLInputElement>('identity-name').value.trim();
  if (!id) throw new Error('enter an identity name first');
  status(`enrolling ${id}…`);
  const r = await api<{ identity: string; faces: { id: number; quality: { size: number } }[] }>('POST', `/v1/identities/${encodeURIComponent(id)}/faces`, photo);
  // The list first, so that when the status says enrolled, the gallery shows it.
  await refreshGallery();
  status(`enrolled face #${r.faces[0].id} as ${r.identity} (${Math.round(r.faces[0].quality.size)} px)`);
}

async function refreshGallery(): Promise<void> {
  const r = await api<{ identities: { id: string; faces: number }[] }>('GET', '/v1/identities');
  $('gallery-list').replaceChildren(
    ...r.identities.map((i) => {
      const li = document.createElement('li');
      li.textContent = `${i.id} — ${i.faces} face${i.faces === 1 ? '' : 's'}`;
      return li;
    }),
  );
}

function answerBox(title: string, clean: Match[], adv: Match[]): HTMLElement {
  const div = document.createElement('div');
  div.className = 'answer';
  // The attack succeeded on this model when the adversarial face is no longer taken for the clean face's person.
  const kept = adv[0]?.same === true && adv[0].identity === clean[0]?.identity;
  div.innerHTML = `<h3>${title}</h3><div>clean: <span class="${clean[0]?.same ? 'same' : 'different'}">${describe(clean[0])}</span></div>` +
    `<div>adversarial: <span class="${kept ? 'same' : 'different'}">${describe(adv[0])}</span> ${kept ? '— still recognised' : '— fooled'}</div>`;
  return div;
}

async function attack(): Promise<void> {
  if (!photo) return;
  const against = $<HTMLSelectElement>('against').value;
  const eps = $<HTMLInputElement>('eps').value;
  const iters = $<HTMLInputElement>('iters').value;
  const pipeline = $<HTMLSelectElement>('pipeline').value;
  status(`attacking (PGD, eps ${eps}, ${iters} iterations, against the ${against} model)…`);
  type Answers = { clean: Match[]; adversarial: Match[] };
  const r = await api<{ images: { clean: string; adversarial: string; perturbation: string }; bare: Answers; defended: Answers; linf: number; pipeline: string; source_identity: string }>(
    'POST',
    `/v1/attack?against=${against}&eps=${eps}&eps_step=1&max_iter=${iters}&pipeline=${encodeURIComponent(pipeline)}`,
    photo,
  );
  const fig = (src: string, caption: string): HTMLElement => {
    const f = document.createElement('figure');
    f.innerHTML = `<img alt="${caption}" src="${src}"><figcaption>${caption}</figcaption>`;
    return f;
  };
  const pair = document.createElement('div');
  pair.className = 'pair';
  pair.append(
    fig(r.images.clean, 'aligned face'),
    fig(r.images.adversarial, 'adversarial'),
    fig(r.images.perturbation, `|δ| (white = ${eps})`),
    answerBox('bare model', r.bare.clean, r.bare.adversarial),
    answerBox(`defended (${r.pipeline})`, r.defended.clean, r.defended.adversarial),
  );
  $('attack-result').replaceChildren(pair);
  status(`attack done: L∞ ${r.linf.toFixed(2)}, moving away from ${r.source_identity}`);
}

function guard(fn: () => Promise<void>): () => void {
  return () => {
    fn().catch((e: Error) => status(e.message, true));
  };
}

async function webcam(): Promise<void> {
  const video = $<HTMLVideoElement>('video');
  video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
  video.hidden = false;
  $('snap').hidden = false;
}

async function snap(): Promise<void> {
  const video = $<HTMLVideoElement>('video');
  const c = document.createElement('canvas');
  c.width = video.videoWidth;
  c.height = video.videoHeight;
  c.getContext('2d')!.drawImage(video, 0, 0);
  const blob = await new Promise<Blob>((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error('webcam: no frame'))), 'image/jpeg', 0.92));
  await usePhoto(blob);
}

async function start(): Promise<void> {
  const key = localStorage.getItem('robustify-key');
  if (key) $<HTMLInputElement>('key').value = key;
  $<HTMLInputElement>('key').addEventListener('change', (e) => localStorage.setItem('robustify-key', (e.target as HTMLInputElement).value));
  config = await api<Config>('GET', '/v1/config');
  $('config').textContent = `${config.model.id} ${config.model.version} · threshold ${config.threshold}`;
  const sel = $<HTMLSelectElement>('pipeline');
  sel.replaceChildren(...config.pipelines.map((p) => new Option(p, p, p === config!.pipeline, p === config!.pipeline)));
  $('attack-panel').hidden = !config.attacks;
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => (e.preventDefault(), drop.classList.add('over')));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) guard(() => usePhoto(f))();
  });
  $<HTMLInputElement>('file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) guard(() => usePhoto(f))();
  });
  $('identify').addEventListener('click', guard(identify));
  $('enrol').addEventListener('click', guard(enrol));
  $('attack').addEventListener('click', guard(attack));
  $('webcam').addEventListener('click', guard(webcam));
  $('snap').addEventListener('click', guard(snap));
  await refreshGallery();
  status('ready: drop or pick a photo');
}

start().catch((e: Error) => status(e.message, true));
