// The app's start-up: point the SDK at Weft, as a self-hosted deployment
// does, before anything else uses it. `?weft=<base URL>` names the server.
(function () {
  const { paragon, connectSingleton } = module.exports;
  window.paragon = paragon;
  window.connectSingleton = connectSingleton;
  const weft = new URL(window.location.href).searchParams.get('weft');
  if (weft) {
    // Weft serves the API and the Proxy API on one origin; every service
    // URL the SDK knows points there. Icons are the app's own (CDN).
    paragon.configureGlobal(
      { host: new URL(weft).host },
      {
        ZEUS_PUBLIC_URL: weft,
        WORKER_PROXY_PUBLIC_URL: weft,
        CONNECT_PUBLIC_URL: weft,
        HERMES_PUBLIC_URL: weft,
        PASSPORT_PUBLIC_URL: weft,
        PASSPORT_PRODUCTION_URL: weft,
        API_TRIGGER_KIT_PUBLIC_URL: weft,
        DASHBOARD_PUBLIC_URL: weft,
        CDN_PUBLIC_URL: `${window.location.origin}/cdn`,
      },
    );
  }
  document.getElementById('status').textContent = weft ? `configured for ${weft}` : 'not configured';
})();
