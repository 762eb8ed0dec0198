// The studio's entry module. Same-origin requests only (the CSP allows no other).
const health = document.getElementById('health');

async function checkHealth() {
  try {
    const r = await fetch('/readyz', { headers: { Accept: 'application/json' } });
    const j = await r.json();
    health.textContent = r.ok ? 'Ready.' : `Not ready (${j.database || r.status}).`;
    health.className = r.ok ? 'ok' : 'bad';
  } catch {
    health.textContent = 'Unreachable.';
    health.className = 'bad';
  }
}

if (health) checkHealth();
