// The console's router: one section per page, chosen by the URL hash
// (#/chat, #/chat/THREAD, #/delivery, #/one-on-one, #/anomalies, #/graphs).
// Each page module is loaded the first time its page is opened.

const pages = {
  chat: () => import('./chat.js'),
  delivery: () => import('./dashboard.js'),
  'one-on-one': () => import('./oneonone.js'),
  anomalies: () => import('./anomalies.js'),
  graphs: () => import('./graphs.js'),
};
const started = new Map();

async function route() {
  const [, page = 'chat', ...rest] = (location.hash || '#/chat').split('/');
  const name = pages[page] ? page : 'chat';
  for (const sec of document.querySelectorAll('.page')) sec.hidden = sec.id !== `page-${name}`;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const mod = await pages[name]();
  if (!started.has(name)) started.set(name, mod.start());
  await started.get(name);
  if (mod.show) await mod.show(rest.map(decodeURIComponent));
}

window.addEventListener('hashchange', () => route().catch(report));
route().catch(report);

function report(e) {
  console.warn(e);
  import('./dom.js').then(({ toast }) => toast(String(e.message || e), { kind: 'error' }));
}
