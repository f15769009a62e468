import { defineConfig } from 'vite';

/**
 * The web console: `vite build console` writes dist/console, which the management listener
 * serves at /console (src/console). `vite console` runs it against a local node's
 * management listener through the proxy below.
 */
export default defineConfig({
  base: '/console/',
  publicDir: false,
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    // One small bundle: no preload polyfill, no inlined data: assets, nothing fetched from elsewhere.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
    target: 'es2022',
  },
  server: {
    proxy: {
      '/apigateways': 'http://127.0.0.1:8081',
      '/metrics': 'http://127.0.0.1:8081',
    },
  },
});
