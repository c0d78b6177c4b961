// The app's start-up with Weft's own SDK, loaded from the Weft server named
// by `?weft=<base URL>`: as a classic script (`/sdk/connect.js`), or as an
// ES module (`/sdk/connect.mjs`) with `&module=1`. Either way the SDK finds
// its server from the URL it was loaded from: no configureGlobal.
(function () {
  const params = new URL(window.location.href).searchParams;
  const weft = params.get('weft');
  const status = document.getElementById('status');
  if (params.get('module') === '1') {
    import(`${weft}/sdk/connect.mjs`).then(
      (module) => {
        window.sdkModule = module;
        window.paragon = module.paragon;
        status.textContent = 'loaded as a module';
      },
      (err) => {
        status.textContent = `module failed: ${err.message}`;
        window.paragon = null;
      },
    );
    return;
  }
  const script = document.createElement('script');
  script.src = `${weft}/sdk/connect.js`;
  script.onload = () => {
    status.textContent = 'loaded';
  };
  script.onerror = () => {
    status.textContent = 'the SDK did not load';
    window.paragon = null;
  };
  document.head.appendChild(script);
})();
