// The live view of a cluster: an agent's own, or the lab's (with its cable buttons). Fed by
// server-sent events from GET /events: `model` (hosts, clusters) and `event` (the timeline).
// No build step: preact and htm as ES modules, served by the agent.
import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';

const html = htm.bind(h);
const MAX_EVENTS = 200;

function useStream() {
  const [model, setModel] = useState(null);
  const [events, setEvents] = useState([]);
  const [live, setLive] = useState(false);
  useEffect(() => {
    const es = new EventSource('/events');
    es.addEventListener('open', () => setLive(true));
    es.addEventListener('error', () => setLive(false));
    es.addEventListener('model', (m) => {
      const data = JSON.parse(m.data);
      setModel(data);
      if (data.events && data.events.length) setEvents((prev) => merge(prev, data.events));
    });
    es.addEventListener('event', (m) => setEvents((prev) => merge(prev, [JSON.parse(m.data)])));
    return () => es.close();
  }, []);
  return { model, events, live };
}

function merge(prev, more) {
  const seen = new Set(prev.map(key));
  const all = [...prev, ...more.filter((e) => !seen.has(key(e)))];
  all.sort((a, b) => b.ts - a.ts);
  return all.slice(0, MAX_EVENTS);
}
const key = (e) => `${e.ts}:${e.host}:${e.name}`;

async function act(action, host) {
  const r = await fetch(`/api/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(host ? { host } : {}) });
  if (!r.ok) alert(`${action} ${host ?? ''}: ${await r.text()}`);
}

const ROLE = { primary: 'primary', 'ccp-host': 'CCP host', follower: 'follower', excluded: 'excluded', 'cut-off': 'cut off', away: 'away', stopped: 'agent stopped' };

function Host({ host, lab, ccp }) {
  const link = host.carrier === null ? '' : host.carrier ? 'up' : 'down';
  return html`<div class="host" data-host=${host.name} data-role=${host.role}>
    <span class=${`link ${link}`} title=${host.carrier === null ? 'link not watched' : host.carrier ? 'carrier' : 'no carrier'}></span>
    <span class="name">${host.name}</span><span class=${`role ${host.role}`}>${ROLE[host.role] ?? host.role}</span>${ccp && host.role !== 'ccp-host' && html`<span class="role ccp-host">CCP</span>`}
    <div class="meta">${host.address}</div>
    ${lab &&
    html`<div class="actions">
      ${host.cable === 'out' ? html`<button data-action="restore" onClick=${() => act('restore', host.name)}>plug in</button>` : html`<button data-action="cut" onClick=${() => act('cut', host.name)}>pull cable</button>`}
      ${host.agent === 'stopped' ? html`<button data-action="start" onClick=${() => act('start', host.name)}>start agent</button>` : html`<button data-action="kill" onClick=${() => act('kill', host.name)}>kill agent</button>`}
    </div>`}
  </div>`;
}

function Cluster({ cluster, hosts, lab }) {
  const c = cluster.ccp;
  return html`<section class="cluster" data-cluster=${cluster.id}>
    <h2>${cluster.id}</h2>
    <div class="meta">term ${cluster.term} · primary ${cluster.primary ?? '–'} · CCP ${c ? html`${c.host} gen ${c.generation} <b data-ccp-ready=${String(c.ready)}>${c.ready ? 'ready' : 'starting'}</b>` : '–'}</div>
    <div class="hosts">${cluster.members.map((m) => hosts.get(m)).filter(Boolean).map((x) => html`<${Host} key=${x.name} host=${x} lab=${lab} ccp=${c?.host === x.name} />`)}</div>
  </section>`;
}

function describe(e) {
  const f = e.fields || {};
  if (e.name === 'failover') return html`<span class="failover">failover ${f.from} → ${f.to} (gen ${f.generation}) in ${(f.durationMs / 1000).toFixed(2)} s</span>`;
  const parts = Object.entries(f).filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0)).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : v}`);
  return html`${e.name}${parts.length ? ` · ${parts.join(' · ')}` : ''}`;
}

function App() {
  const { model, events, live } = useStream();
  if (!model) return html`<p class="waiting">connecting…</p>`;
  const lab = model.mode === 'lab';
  const hosts = new Map(model.hosts.map((x) => [x.name, x]));
  const inCluster = new Set(model.clusters.flatMap((c) => c.members));
  const outside = model.hosts.filter((x) => !inCluster.has(x.name));
  return html`<header>
      <h1>${model.title}</h1>
      <span class=${`live ${live ? '' : 'down'}`}>${live ? 'live' : 'reconnecting…'}</span>
      ${lab && html`<button data-action="heal" onClick=${() => act('heal')}>heal everything</button>`}
    </header>
    <div class="clusters">${model.clusters.map((c) => html`<${Cluster} key=${c.id} cluster=${c} hosts=${hosts} lab=${lab} />`)}</div>
    ${outside.length > 0 && html`<section class="cluster outside"><h2>not in a cluster</h2><div class="hosts">${outside.map((x) => html`<${Host} key=${x.name} host=${x} lab=${lab} />`)}</div></section>`}
    <section class="timeline"><h2>timeline</h2>
      <ol>${events.map((e) => html`<li key=${key(e)} data-event=${e.name}><span class="t">${new Date(e.ts).toLocaleTimeString()}</span><b>${e.host}</b> ${describe(e)}</li>`)}</ol>
    </section>`;
}

render(html`<${App} />`, document.getElementById('app'));
