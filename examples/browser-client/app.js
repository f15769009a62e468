/* global document, location, URLSearchParams */
// The page's logic: the client SDK as `npm run build` emits it (dist/src/client/*.js, ES
// modules with no dependencies), served under /client/ by serve.js. A bundler works as well:
// `import { SwitchboardClient } from 'switchboard/client'`.
import { SwitchboardClient } from '/client/index.js';

const form = document.getElementById('settings');
const logElement = document.getElementById('log');
const query = new URLSearchParams(location.search);
for (const input of form.elements) {
  if (input.name && query.has(input.name)) input.value = query.get(input.name);
}
const setting = (name) => form.elements.namedItem(name).value;

function log(line) {
  logElement.textContent += `${line}\n`;
}

const token = setting('token');
const client = new SwitchboardClient({
  url: setting('ws'),
  tenantId: setting('tenantId'),
  userId: setting('userId'),
  // getToken runs before every (re)connect: fetch a fresh token from your backend here.
  ...(token ? { getToken: async () => token } : {}),
});

client.on('connected', (e) => log(`connected ${e.connectionId}${e.reconnected ? ' (reconnected)' : ''}`));
client.on('disconnected', (e) => log(`disconnected ${e.code}${e.willReconnect ? `, reconnecting in ${Math.round(e.delayMs ?? 0)} ms` : ''}`));
client.on('recovered', (e) => log(`recovered ${e.topic}: ${e.delivered} missed`));
// History no longer covers the gap: reload the state this topic feeds from your backend.
client.on('recoveryFailed', (e) => log(`recovery failed ${e.topic}: reload its state`));
client.on('error', (err) => log(`error ${err.message}`));

try {
  await client.connect();
  const subscribed = await client.subscribe(setting('topic'), (p) => log(`publication ${p.topic} #${p.offset}: ${JSON.stringify(p.payload)}${p.recovered ? ' (recovered)' : ''}`));
  log(`subscribed ${subscribed.topic} at offset ${subscribed.offset}`);
} catch (err) {
  log(`failed: ${err.code ?? ''} ${err.message}`);
}
