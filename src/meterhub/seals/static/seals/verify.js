/* Offline seal code check: the same rules as meterhub/seals/seal_code.py, in the browser.
 *
 * The key list comes from /seals/keys.json when there is signal, is checked against the
 * list key pinned in the page, and is kept in localStorage. Codes are verified with
 * WebCrypto Ed25519. Every check is queued in localStorage and uploaded when the phone
 * is online (each with its own id, so an upload repeated is stored once).
 */
"use strict";

const SealCheck = (() => {
  const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
  const PREFIX = "MS1:";
  const POSITIONS = ["meter_cover", "terminal_cover", "optical_port", "collector"];
  const EPOCH = Date.UTC(2020, 0, 1);
  const LIST_KEY = "meterhub.seals.keylist";
  const QUEUE_KEY = "meterhub.seals.queue";

  function base45Decode(text) {
    const values = [];
    for (const ch of text) {
      const v = ALPHABET.indexOf(ch);
      if (v < 0) throw new Error("not a Base45 character");
      values.push(v);
    }
    if (values.length % 3 === 1) throw new Error("bad Base45 length");
    const out = [];
    for (let i = 0; i < values.length; i += 3) {
      const chunk = values.slice(i, i + 3);
      const n = chunk.reduce((acc, v, k) => acc + v * 45 ** k, 0);
      if (chunk.length === 3) {
        if (n > 0xffff) throw new Error("Base45 out of range");
        out.push(n >> 8, n & 0xff);
      } else {
        if (n > 0xff) throw new Error("Base45 out of range");
        out.push(n);
      }
    }
    return new Uint8Array(out);
  }

  function b64url(text) {
    const s = text.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(s + "===".slice((s.length + 3) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  }

  function parse(text) {
    text = text.trim();
    if (!text.startsWith(PREFIX)) throw new Error("not a meterhub seal code");
    const raw = base45Decode(text.slice(PREFIX.length));
    if (raw.length < 6 + 2 + 64 || raw[0] !== 1) throw new Error("unknown version or too short");
    const body = raw.slice(0, raw.length - 64);
    const signature = raw.slice(raw.length - 64);
    if (body[5] >= POSITIONS.length) throw new Error("unknown position");
    const texts = [];
    let i = 6;
    for (let k = 0; k < 2; k++) {
      if (i >= body.length) throw new Error("cut short");
      const n = body[i];
      const chunk = body.slice(i + 1, i + 1 + n);
      if (n === 0 || chunk.length !== n || chunk.some((b) => b > 127)) throw new Error("bad text");
      texts.push(String.fromCharCode(...chunk));
      i += 1 + n;
    }
    if (i !== body.length) throw new Error("trailing bytes");
    const days = (body[3] << 8) | body[4];
    return {
      code: {
        kid: (body[1] << 8) | body[2],
        issued: new Date(EPOCH + days * 86400000).toISOString().slice(0, 10),
        position: POSITIONS[body[5]], seal: texts[0], meter: texts[1],
      },
      body, signature,
    };
  }

  async function ed25519Verify(publicRaw, signature, message) {
    const key = await crypto.subtle.importKey("raw", publicRaw, { name: "Ed25519" }, false, ["verify"]);
    return crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
  }

  const normalise = (s) => s.replace(/\s+/g, "").toUpperCase();

  /* One verdict: valid, other_meter, not_genuine, withdrawn, stale_list. */
  async function verify(text, list, meterEntered, now) {
    now = now || new Date();
    let parsed;
    try {
      parsed = parse(text);
    } catch (e) {
      return { verdict: "not_genuine", why: e.message, code: null };
    }
    const { code, body, signature } = parsed;
    const stale = now > new Date(list.stale_after);
    const key = list.keys.find((k) => k.kid === code.kid);
    if (!key) return { verdict: stale ? "stale_list" : "not_genuine", why: "unknown key " + code.kid, code };
    let ok = false;
    try {
      ok = await ed25519Verify(b64url(key.x), signature, body);
    } catch (e) {
      ok = false;
    }
    if (!ok) return { verdict: "not_genuine", why: "signature does not match", code };
    if (key.revoked) return { verdict: "not_genuine", why: "key revoked", code };
    if (code.issued < key.not_before || (key.not_after && code.issued > key.not_after)) {
      return { verdict: "not_genuine", why: "outside the key's window", code };
    }
    if (stale) return { verdict: "stale_list", why: "key list out of date", code };
    const state = list.withdrawn[code.seal];
    if (state) return { verdict: "withdrawn", why: state, state, code };
    if (meterEntered && normalise(meterEntered) !== normalise(code.meter)) {
      return { verdict: "other_meter", why: code.meter, code };
    }
    return { verdict: "valid", why: "", code };
  }

  /* The signed envelope from /seals/keys.json, accepted only under the pinned list key. */
  async function openEnvelope(envelope, pinnedKey) {
    const ok = await ed25519Verify(b64url(pinnedKey), b64url(envelope.sig), new TextEncoder().encode(envelope.body));
    if (!ok) throw new Error("key list signature does not match");
    const list = JSON.parse(envelope.body);
    if (list.format !== "meterhub-seal-keys/1") throw new Error("unknown key list format");
    return list;
  }

  function storedList() {
    try {
      return JSON.parse(localStorage.getItem(LIST_KEY));
    } catch (e) {
      return null;
    }
  }

  async function refreshList(url, pinnedKey) {
    const response = await fetch(url, { cache: "no-store", credentials: "same-origin" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const envelope = await response.json();
    const list = await openEnvelope(envelope, pinnedKey);
    const current = storedList();
    if (!current || list.issued_at >= current.issued_at) localStorage.setItem(LIST_KEY, JSON.stringify(list));
    return list;
  }

  function queue() {
    try {
      return JSON.parse(localStorage.getItem(QUEUE_KEY)) || [];
    } catch (e) {
      return [];
    }
  }

  function enqueue(item) {
    const items = queue();
    items.push(item);
    localStorage.setItem(QUEUE_KEY, JSON.stringify(items));
  }

  let uploading = false;
  async function upload(url, csrfToken) {
    if (uploading) return 0;
    const items = queue();
    if (!items.length) return 0;
    uploading = true;
    try {
      const response = await fetch(url, {
        method: "POST", credentials: "same-origin", redirect: "error",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify({ results: items }),
      });
      if (!response.ok) return 0;
      const sent = new Set(items.map((i) => i.client_id));
      localStorage.setItem(QUEUE_KEY, JSON.stringify(queue().filter((i) => !sent.has(i.client_id))));
      return items.length;
    } catch (e) {
      return 0; // no signal: kept for the next try
    } finally {
      uploading = false;
    }
  }

  return { parse, verify, openEnvelope, refreshList, storedList, queue, enqueue, upload, base45Decode };
})();

/* The page: scan or type, check, show, queue. */
(function () {
  const root = document.getElementById("seal-check");
  if (!root) return;
  const cfg = root.dataset;
  const $ = (id) => document.getElementById(id);
  const messages = JSON.parse($("verdict-messages").textContent);

  function showList() {
    const list = SealCheck.storedList();
    $("list-status").textContent = list
      ? cfg.listLabel.replace("%s", list.issued_at.replace("T", " ").slice(0, 16))
      : cfg.noListLabel;
  }

  function showQueue() {
    const n = SealCheck.queue().length;
    $("queue-status").textContent = n ? cfg.queuedLabel.replace("%s", n) : cfg.uploadedLabel;
    $("queue-status").dataset.pending = String(n);
  }

  /* The cookie's token: the one in the cached page is stale after the next sign-in. */
  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : cfg.csrf;
  }

  async function sync() {
    if (navigator.onLine) {
      try {
        await SealCheck.refreshList(cfg.keysUrl, cfg.listKey);
      } catch (e) { /* offline or refused: keep the stored list */ }
      await SealCheck.upload(cfg.resultsUrl, csrfToken());
    }
    showList();
    showQueue();
  }

  async function check(event) {
    if (event) event.preventDefault();
    const code = $("code").value.trim();
    const meter = $("meter").value.trim();
    const list = SealCheck.storedList();
    const out = $("result");
    if (!code) return;
    if (!list) {
      out.className = "verdict warn";
      out.dataset.verdict = "stale_list";
      out.textContent = messages.no_list;
      return;
    }
    const result = await SealCheck.verify(code, list, meter);
    out.dataset.verdict = result.verdict;
    out.className = "verdict " + (result.verdict === "valid" ? "good" : result.verdict === "stale_list" ? "warn" : "bad");
    const c = result.code;
    out.innerHTML = "";
    const head = document.createElement("strong");
    head.textContent = messages[result.verdict];
    out.appendChild(head);
    if (c) {
      const detail = document.createElement("div");
      detail.textContent = `${c.seal} · ${c.meter} · ${messages.positions[c.position] || c.position} · ${c.issued}`;
      out.appendChild(detail);
    }
    SealCheck.enqueue({
      client_id: crypto.randomUUID(), code, meter, verdict: result.verdict,
      seal: c ? c.seal : "", checked_at: new Date().toISOString(),
    });
    showQueue();
    sync();
  }

  /* Camera scanning with jsQR where the phone allows it; a photo otherwise. */
  let stream = null;
  async function scan() {
    const video = $("video");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (e) {
      $("photo").click();
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const canvas = document.createElement("canvas");
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const tick = () => {
      if (!stream) return;
      if (video.readyState === video.HAVE_ENOUGH_DATA) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        ctx.drawImage(video, 0, 0);
        const found = jsQR(ctx.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
        if (found && found.data) {
          stopScan();
          $("code").value = found.data;
          check();
          return;
        }
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  function stopScan() {
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    $("video").hidden = true;
  }

  async function fromPhoto() {
    const file = $("photo").files[0];
    if (!file) return;
    const bitmap = await createImageBitmap(file);
    const canvas = document.createElement("canvas");
    const scale = Math.min(1, 1600 / Math.max(bitmap.width, bitmap.height));
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    const found = jsQR(ctx.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
    if (found && found.data) {
      $("code").value = found.data;
      check();
    } else {
      const out = $("result");
      out.className = "verdict warn";
      out.dataset.verdict = "";
      out.textContent = messages.no_qr;
    }
  }

  $("check-form").addEventListener("submit", check);
  $("scan").addEventListener("click", scan);
  $("photo").addEventListener("change", fromPhoto);
  window.addEventListener("online", sync);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register(cfg.swUrl, { scope: cfg.scope }).catch(() => {});
  }
  sync();
})();
