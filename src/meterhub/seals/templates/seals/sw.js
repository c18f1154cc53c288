/* meterhub seal check: keeps the page, its scripts and the key list for use without signal. */
const CACHE = "meterhub-seal-check-{{ version }}";
const SHELL = {{ shell|safe }};
const KEYS = {{ keys_url|safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll([...SHELL, KEYS])).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith("meterhub-seal-check-") && n !== CACHE)
      .map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // uploads go to the network or fail, and stay queued
  const url = new URL(request.url);
  if (url.pathname === KEYS) {
    // The freshest list when there is signal; the cached one when not.
    event.respondWith(fetch(request).then((response) => {
      if (response.ok && !response.redirected) { const copy = response.clone(); caches.open(CACHE).then((c) => c.put(KEYS, copy)); }
      return response;
    }).catch(() => caches.match(KEYS)));
    return;
  }
  if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit || fetch(request)));
  }
});
