// The dashboard (SPEC §15) in headless Chromium, against the real daemon binary: each test
// starts a daemon on its own programs.d, opens the page in a fresh browser context, acts as a
// person would (or changes things behind the page's back through the API and the folder), and
// waits for what must show, with deadlines. Every test fails on any console message or page
// error (see harness.mjs watchConsole).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { DEADLINE, Daemon, launchBrowser, screenshotPath, watchConsole } from './harness.mjs';

let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
});

const cleanups = new WeakMap();

/** Runs `fn` when the test ends, pass or fail: the last registered first (pages before daemons). */
function defer(t, fn) {
  if (!cleanups.has(t)) {
    const stack = [];
    cleanups.set(t, stack);
    t.after(async () => {
      for (const cleanup of stack.reverse()) await cleanup();
    });
  }
  cleanups.get(t).push(fn);
}

/** A daemon for one test, stopped (with everything it ran) when the test ends, pass or fail. */
async function daemonFor(t, options) {
  const daemon = await Daemon.start(options);
  defer(t, () => daemon.stop());
  return daemon;
}

/** A new browser context and page on the dashboard, closed when the test ends. */
async function pageFor(t, daemon, { path = '/', colorScheme = 'light', viewport = { width: 1280, height: 860 } } = {}) {
  const context = await browser.newContext({ viewport, colorScheme, reducedMotion: 'reduce' });
  defer(t, () => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(DEADLINE);
  const console = watchConsole(page);
  await page.goto(`${daemon.url}${path}`);
  return { page, console };
}

const row = (name) => `tr[data-name="${name}"]`;
const stateIn = (name) => `${row(name)} td[data-field="state"] .state`;

/** Waits until the element at `selector` has the text (exact, or matching a RegExp). */
async function waitText(page, selector, expected, timeout = DEADLINE) {
  const wanted = expected instanceof RegExp ? { source: expected.source, flags: expected.flags } : { text: expected };
  try {
    await page.waitForFunction(
      ([css, want]) => {
        const text = document.querySelector(css)?.textContent?.trim();
        if (text === undefined) return false;
        return want.text !== undefined ? text === want.text : new RegExp(want.source, want.flags).test(text);
      },
      [selector, wanted],
      { timeout, polling: 'raf' },
    );
  } catch (error) {
    const seen = await page.locator(selector).first().textContent({ timeout: 100 }).catch(() => '(absent)');
    throw new Error(`${selector}: wanted ${expected}, saw ${JSON.stringify(seen)} (${error.message.split('\n')[0]})`);
  }
}

const sleeper = (extra = '') => `command = "sleep 100000"\nstartsecs = 0\n${extra}`;

describe('the list', () => {
  test('shows every program with its state, and its config error', async (t) => {
    const daemon = await daemonFor(t, {
      programs: {
        'web.toml': '# the web server\ndescription = "serves the site"\ncommand = ["sh", "-c", "echo web up; exec sleep 100000"]\nboot = true\nstartsecs = 0\n',
        'worker.yaml': 'command: sleep 100000\nboot: true\nstartsecs: 0\n',
        'checked.toml': 'command = "sleep 100000"\nboot = true\nstartsecs = 0\n\n[healthcheck]\nexec = "true"\n',
        'idle.toml': sleeper(),
        'crash.toml': 'command = "/nonexistent/hoody-browser-test"\nboot = true\n',
        'once.toml': 'command = ["sh", "-c", "echo done"]\nboot = true\nstartsecs = 0\nautorestart = false\n',
        'broken.toml': 'command = "sleep 100000"\nboot = maybe\n',
      },
    });
    await daemon.waitState('web', 'RUNNING');
    await daemon.waitState('worker', 'RUNNING');
    await daemon.waitState('crash', 'FATAL');
    await daemon.waitState('once', 'EXITED');
    await daemon.until('checked to be healthy', async () => (await daemon.status('checked'))?.health === 'healthy');
    const { page, console } = await pageFor(t, daemon);

    const { body } = await daemon.api('GET', '/status');
    const statuses = body.data.statuses;
    assert.equal(statuses.length, 7);
    for (const status of statuses) await waitText(page, stateIn(status.name), status.status);
    assert.equal(await page.locator('tbody tr[data-name]').count(), statuses.length);
    await waitText(page, `${row('web')} td[data-field="pid"]`, String(statuses.find((s) => s.name === 'web').pid));
    await waitText(page, `${row('broken')} td[data-field="info"]`, /^config error: broken\.toml:2:8: /);
    await waitText(page, `${row('crash')} td[data-field="info"]`, /nonexistent/);
    await waitText(page, '.summary', /^7 programs: .*3 running.* · 1 with config errors$/);
    // Health and readiness (SPEC §12) where the status has them.
    await waitText(page, `${row('checked')} td[data-field="health"]`, 'healthy · ready');
    await waitText(page, `${row('web')} td[data-field="health"]`, 'ready');
    await waitText(page, `${row('idle')} td[data-field="health"]`, '—');

    await page.screenshot({ path: screenshotPath('dashboard-list.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.screenshot({ path: screenshotPath('dashboard-list-dark.png') });
    console.assertClean();
  });

  test('follows changes made through the API without a reload, each within a second', async (t) => {
    const daemon = await daemonFor(t, { programs: { 'web.toml': sleeper('boot = true\n') } });
    await daemon.waitState('web', 'RUNNING');
    const { page, console } = await pageFor(t, daemon);
    await waitText(page, stateIn('web'), 'RUNNING');
    await waitText(page, '#live', 'live');
    // Marks this document: a reload would lose it.
    await page.evaluate(() => {
      window.hoodyTestMark = 'same document';
    });
    // What the page fetches from here on, from its own resource timing.
    const mark = await page.evaluate(() => performance.now());

    assert.equal((await daemon.api('POST', '/programs/web/stop')).status, 200);
    await waitText(page, stateIn('web'), 'STOPPED', 1000);
    assert.equal((await daemon.api('POST', '/programs/web/start')).status, 200);
    await waitText(page, stateIn('web'), 'RUNNING', 1000);

    assert.equal((await daemon.api('POST', '/programs/add', { name: 'added', command: 'sleep 100000', boot: true, startsecs: 0 })).status, 201);
    await waitText(page, stateIn('added'), 'RUNNING', 1000);
    assert.equal((await daemon.api('POST', '/programs/remove/added')).status, 200);
    await page.waitForSelector(row('added'), { state: 'detached', timeout: 1000 });

    assert.equal(await page.evaluate(() => window.hoodyTestMark), 'same document');
    const requests = await page.evaluate(
      (since) => performance.getEntriesByType('resource').filter((entry) => entry.startTime > since).map((entry) => new URL(entry.name).pathname),
      mark,
    );
    // Live means events: each change re-read only the program it named, never the whole list.
    assert.ok(!requests.includes('/api/v1/daemon/status'), `the page re-read the list: ${requests.join(', ')}`);
    assert.ok(requests.includes('/api/v1/daemon/status/web'), requests.join(', '));
    assert.ok(!requests.includes('/'), 'the page was loaded again');
    console.assertClean();
  });
});

describe('the event stream', () => {
  test('comes back after the daemon restarts, and the list re-reads what it missed', async (t) => {
    const daemon = await daemonFor(t, { programs: { 'web.toml': sleeper('boot = true\n') } });
    await daemon.waitState('web', 'RUNNING');
    const { page, console } = await pageFor(t, daemon);
    // While it shuts down the daemon answers 503; while it is down, the browser logs each
    // refused connection.
    console.maybe(/\/api\/v1\/daemon\//, 503);
    console.maybe(/\/api\/v1\/daemon\//, /net::ERR_/);
    await waitText(page, stateIn('web'), 'RUNNING');
    await waitText(page, '#live', 'live');
    await daemon.restart(async () => {
      await waitText(page, '#live', /^disconnected; again in \d+ s$/);
      // A change nobody could tell the page about.
      daemon.write('later.toml', sleeper('boot = true\n'));
    });
    await daemon.waitState('later', 'RUNNING');
    await waitText(page, '#live', 'live');
    await waitText(page, stateIn('later'), 'RUNNING');
    await waitText(page, stateIn('web'), 'RUNNING');
    console.assertClean();
  });
});

describe('actions', () => {
  test('Start, Stop and Restart buttons work', async (t) => {
    const daemon = await daemonFor(t, { programs: { 'web.toml': sleeper('boot = true\n'), 'idle.toml': sleeper() } });
    const first = await daemon.waitState('web', 'RUNNING');
    const { page, console } = await pageFor(t, daemon);
    await waitText(page, stateIn('web'), 'RUNNING');

    await page.click(`${row('web')} button[data-action="stop"]`);
    await waitText(page, stateIn('web'), 'STOPPED');
    await daemon.waitState('web', 'STOPPED');
    await page.waitForSelector(`${row('web')} button[data-action="stop"]:disabled`);
    await page.waitForSelector(`${row('web')} button[data-action="start"]:enabled`);

    await page.click(`${row('web')} button[data-action="start"]`);
    await waitText(page, stateIn('web'), 'RUNNING');
    const started = await daemon.waitState('web', 'RUNNING');
    assert.notEqual(started.pid, first.pid);
    await waitText(page, `${row('web')} td[data-field="pid"]`, String(started.pid));

    // Buttons are buttons: the keyboard works them too.
    await page.focus(`${row('web')} button[data-action="restart"]`);
    await page.keyboard.press('Enter');
    const restarted = await daemon.until('a new pid after the restart', async () => {
      const status = await daemon.status('web');
      return status?.status === 'RUNNING' && status.pid !== started.pid ? status : null;
    });
    await waitText(page, `${row('web')} td[data-field="pid"]`, String(restarted.pid));

    await page.click(`${row('idle')} button[data-action="start"]`);
    await daemon.waitState('idle', 'RUNNING');
    await waitText(page, stateIn('idle'), 'RUNNING');
    console.assertClean();
  });

  test('enable, disable, remove with a confirmation, signal, and all programs at once', async (t) => {
    const daemon = await daemonFor(t, {
      programs: { 'web.toml': sleeper('boot = true\n'), 'api.toml': sleeper('boot = true\n'), 'gone.toml': sleeper() },
    });
    await daemon.waitState('web', 'RUNNING');
    await daemon.waitState('api', 'RUNNING');
    const { page, console } = await pageFor(t, daemon);
    await waitText(page, stateIn('web'), 'RUNNING');
    const menu = (name) => page.locator(`#menu-${name}`);
    const openMenu = async (name) => {
      await page.getByRole('button', { name: `More actions for ${name}` }).click();
      await menu(name).waitFor({ state: 'visible' });
    };

    // Disable (writes enabled = false, stops it), then a start is refused with the daemon's words.
    await openMenu('web');
    await menu('web').getByRole('button', { name: 'Disable' }).click();
    await waitText(page, stateIn('web'), 'STOPPED');
    await waitText(page, `${row('web')} td[data-field="state"] .tag`, 'disabled');
    assert.match(daemon.read('web.toml'), /enabled = false/);
    console.expect(/\/programs\/web\/start$/, 409);
    await page.click(`${row('web')} button[data-action="start"]`);
    await waitText(page, '.notice-error span', /^Start web: .*not enabled/);
    await page.locator('.notice-error .close').click();

    await openMenu('web');
    await menu('web').getByRole('button', { name: 'Enable' }).click();
    await daemon.until('web enabled', async () => (await daemon.status('web'))?.enabled === true);
    await page.waitForSelector(`${row('web')} td[data-field="state"] .tag`, { state: 'hidden' });

    // A signal: POST /programs/{id}/signal. A daemon without that route answers 404, and the page says so.
    const probe = await daemon.api('POST', '/programs/api/signal', { signal: 'HUP' });
    if (probe.status === 404) console.expect(/\/programs\/api\/signal$/, 404);
    await openMenu('api');
    await menu('api').locator('select').selectOption('USR1');
    await menu('api').getByRole('button', { name: 'Send signal' }).click();
    if (probe.status === 404) {
      await waitText(page, '.notice-error span', 'Signal api: this daemon has no signal endpoint (404)');
      await page.locator('.notice-error .close').click();
    } else {
      await waitText(page, '.notice-ok span', /^api: sent SIGUSR1$/);
    }

    // Remove asks first; Cancel keeps the program.
    await openMenu('gone');
    await menu('gone').getByRole('button', { name: 'Remove…' }).click();
    const dialog = page.locator('#confirm-dialog');
    await dialog.waitFor({ state: 'visible' });
    assert.match(await dialog.textContent(), /Remove gone\?/);
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.ok((await daemon.status('gone')) !== null);
    await openMenu('gone');
    await menu('gone').getByRole('button', { name: 'Remove…' }).click();
    await dialog.getByRole('button', { name: 'Remove gone' }).click();
    await page.waitForSelector(row('gone'), { state: 'detached' });
    await daemon.until('gone.toml deleted', async () => (await daemon.api('GET', '/status/gone')).status === 404);

    // Stop all (confirmed), then Start all.
    await waitText(page, stateIn('web'), 'STOPPED');
    await page.click('button[data-bulk="start"]');
    await daemon.waitState('web', 'RUNNING');
    await waitText(page, stateIn('web'), 'RUNNING');
    await page.click('button[data-bulk="stop"]');
    await dialog.getByRole('button', { name: 'Stop all' }).click();
    for (const name of ['web', 'api']) {
      await daemon.waitState(name, 'STOPPED');
      await waitText(page, stateIn(name), 'STOPPED');
    }
    await page.click('button[data-bulk="start"]');
    for (const name of ['web', 'api']) await waitText(page, stateIn(name), 'RUNNING');
    console.assertClean();
  });
});

describe('a program page', () => {
  test('shows the lines the program printed, both streams, live, as text', async (t) => {
    const daemon = await daemonFor(t, {
      programs: {
        'talker.toml': [
          'command = ["sh", "-c", "echo hello-from-stdout; echo hello-from-stderr >&2; echo \'<img src=x onerror=window.hoodyPwned=1>\'; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done"]',
          'boot = true',
          'startsecs = 0',
          '',
        ].join('\n'),
      },
    });
    await daemon.waitState('talker', 'RUNNING');
    const { page, console } = await pageFor(t, daemon, { path: '/#/program/talker' });
    await waitText(page, '.program-head .state', 'RUNNING');
    const log = page.locator('.log');
    await log.locator('.line.stdout', { hasText: 'hello-from-stdout' }).waitFor();
    await log.locator('.line.stderr', { hasText: 'hello-from-stderr' }).waitFor();
    // Markup in a log line is text: shown as written, never parsed.
    await log.locator('.line', { hasText: '<img src=x onerror=window.hoodyPwned=1>' }).waitFor();
    assert.equal(await log.locator('img').count(), 0);
    assert.equal(await page.evaluate(() => window.hoodyPwned), undefined);
    // Live: a tick printed after the page opened shows up.
    const last = async () => {
      const ticks = await log.locator('.line.stdout', { hasText: 'tick-' }).allTextContents();
      return Math.max(0, ...ticks.map((text) => Number(/tick-(\d+)/.exec(text)?.[1] ?? 0)));
    };
    const seen = await last();
    await daemon.until('a new tick in the page', async () => (await last()) > seen + 1);
    await waitText(page, '.log-state', 'following');

    await page.screenshot({ path: screenshotPath('dashboard-program.png'), fullPage: true });
    console.assertClean();
  });

  test('a broken file shows its error, with file, line and column', async (t) => {
    const daemon = await daemonFor(t, { programs: { 'web.toml': sleeper('boot = true\n') } });
    await daemon.waitState('web', 'RUNNING');
    const { page, console } = await pageFor(t, daemon, { path: '/#/program/web' });
    await waitText(page, '.program-head .state', 'RUNNING');
    // Broken behind the page's back: the last good version keeps running.
    daemon.write('web.toml', 'command = "sleep 100000"\nstartsecs = 0\nboot = true\nstopsignal = "LOUD"\n');
    await page.locator('.config-error').waitFor({ state: 'visible' });
    await waitText(page, '.config-error h2', 'Config error');
    await waitText(page, '.config-error li', /web\.toml:4:1 field stopsignal: unknown signal "LOUD"/);
    await waitText(page, '.config-error p', /last good version \(generation 1\) stays in effect/);
    await waitText(page, '.program-head .state', 'RUNNING');
    // The editor shows the broken text (a clean editor follows the file).
    await page.waitForFunction(() => document.querySelector('textarea.editor')?.value.includes('LOUD'));
    // And the list says so too.
    await page.click('a[href="#/"]');
    await waitText(page, `${row('web')} td[data-field="info"]`, /^config error: web\.toml:4:1: field stopsignal: unknown signal/);

    // A file that never was valid is listed with its error.
    daemon.write('new.yaml', 'command: [sleep\n');
    await waitText(page, `${row('new')} td[data-field="info"]`, /^config error: new\.yaml:\d+:\d+: /);
    console.assertClean();
  });

  test('saving an edit works; a stale edit shows the conflict and can be reloaded', async (t) => {
    const original = '# keep this comment\ncommand = "sleep 100000"\nboot = true\nstartsecs = 0\n';
    const daemon = await daemonFor(t, { programs: { 'edited.toml': original } });
    await daemon.waitState('edited', 'RUNNING');
    const { page, console } = await pageFor(t, daemon, { path: '/#/program/edited' });
    const editor = page.locator('textarea.editor');
    await page.waitForFunction(() => document.querySelector('textarea.editor')?.value.includes('keep this comment'));
    const save = page.getByRole('button', { name: 'Save', exact: true });
    assert.ok(await save.isDisabled(), 'nothing to save yet');

    // An edit, saved with If-Match: on disk byte for byte, the comment kept, the diff shown.
    const edited = `${original}description = "edited in the browser"\n`;
    await editor.fill(edited);
    await waitText(page, '.dirty', 'unsaved changes');
    await save.click();
    await waitText(page, '.editor-messages .ok', /^Saved\. The change:/);
    await waitText(page, '.editor-messages .diff-add', '+description = "edited in the browser"');
    assert.equal(daemon.read('edited.toml'), edited);
    const afterSave = await daemon.api('GET', '/programs/edited');
    assert.equal(afterSave.body.data.program.description, 'edited in the browser');

    // A validation error is shown and nothing is written.
    console.expect(/\/programs\/put$/, 400);
    await editor.fill(edited.replace('boot = true', 'boot = "maybe"'));
    await save.click();
    await waitText(page, '.editor-messages .error', /^Not saved: .*boot/);
    assert.equal(daemon.read('edited.toml'), edited);

    // Stale: the file changes on disk while the page holds an edit.
    await editor.fill(`${edited}priority = 5\n`);
    const outside = `${edited}priority = 7 # from another editor\n`;
    daemon.write('edited.toml', outside);
    await waitText(page, '.editor-messages .conflict', /changed on disk .* saving now will be refused/);
    console.expect(/\/programs\/put$/, 412);
    await save.click();
    await waitText(page, '.editor-messages .conflict strong', 'Conflict:');
    await waitText(page, '.editor-messages .conflict', /changed since you opened it.*Your edit was not saved/);
    assert.equal(daemon.read('edited.toml'), outside, 'the other edit is not overwritten');
    await page.getByRole('button', { name: 'Reload the file' }).click();
    await page.waitForFunction(() => document.querySelector('textarea.editor')?.value.includes('from another editor'));
    await waitText(page, '.editor-messages pre.yours', /priority = 5/);
    assert.ok(await save.isDisabled());

    // The history shows every change with its diff.
    await page.locator('#history summary').click();
    await waitText(page, '#history .change h3', /^Generation \d+ · edited · from file · /);
    await page.locator('#history .diff-add', { hasText: 'priority = 7' }).first().waitFor();
    await page.locator('#history .change', { hasText: 'from api' }).first().waitFor();
    console.assertClean();
  });
});

describe('quick start', () => {
  test('runs a command and shows its status and output', async (t) => {
    const daemon = await daemonFor(t);
    const { page, console } = await pageFor(t, daemon, { path: '/#/quick' });
    await page.getByLabel('Command').fill("sh -c 'echo quick-hello; echo quick-oops >&2; exit 3'");
    await page.getByLabel('Environment').fill('GREETING=hi\n');
    await page.getByRole('button', { name: 'Run' }).click();
    await page.waitForFunction(() => /^#\/quick\/\d+$/.test(location.hash));
    await waitText(page, '.quick-run .program-head .state', 'EXITED');
    await waitText(page, '.quick-run dd[data-field="exit-code"]', '3');
    await page.locator('.quick-run .log .line.stdout', { hasText: 'quick-hello' }).waitFor();
    await page.locator('.quick-run .log .line.stderr', { hasText: 'quick-oops' }).waitFor();
    await page.locator('.quick-runs tbody tr[data-run]').first().waitFor();
    console.assertClean();
  });
});

describe('a token', () => {
  test('the token prompt appears when the daemon has a token, and the list after it', async (t) => {
    const secret = `browser-secret-${process.pid}`;
    const daemon = await daemonFor(t, { token: secret, programs: { 'web.toml': sleeper('boot = true\n') } });
    await daemon.waitState('web', 'RUNNING');
    const { page, console } = await pageFor(t, daemon);
    // Before the token the API answers 401 (the page itself needs none).
    console.maybe(/\/api\/v1\/daemon\//, 401);
    console.maybe(/\/api\/v1\/daemon\/events$/, 401);
    const dialog = page.locator('#token-dialog');
    await dialog.waitFor({ state: 'visible' });
    await waitText(page, '#token-reason', /needs a bearer token/);

    await page.getByLabel('Token', { exact: true }).fill('a wrong guess');
    await dialog.getByRole('button', { name: 'Use this token' }).click();
    await dialog.waitFor({ state: 'visible' });
    await waitText(page, '#token-reason', /refused the token: the bearer token is wrong/);

    await page.getByLabel('Token', { exact: true }).fill(secret);
    await dialog.getByRole('button', { name: 'Use this token' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await waitText(page, stateIn('web'), 'RUNNING');
    await waitText(page, '#live', 'live');

    // Kept for the tab only: sessionStorage, not localStorage, never in the URL.
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hoody-daemon.token')), secret);
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.ok(!page.url().includes(secret));
    // A reload of the tab keeps it; a new tab asks again.
    await page.reload();
    await waitText(page, stateIn('web'), 'RUNNING');
    assert.ok(!(await dialog.isVisible()));
    const other = await page.context().newPage();
    const otherConsole = watchConsole(other);
    otherConsole.maybe(/\/api\/v1\/daemon\//, 401);
    await other.goto(daemon.url);
    await other.locator('#token-dialog').waitFor({ state: 'visible' });
    otherConsole.assertClean();

    // Live with the token: a change through the API shows.
    await daemon.api('POST', '/programs/web/stop');
    await waitText(page, stateIn('web'), 'STOPPED');
    // Forgetting the token asks again.
    await page.getByRole('button', { name: 'Forget token' }).click();
    await dialog.waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('hoody-daemon.token')), null);
    console.assertClean();
  });
  test('a read token sees every program and no action; an operate token starts and stops but edits nothing', async (t) => {
    const admin = `admin-${process.pid}`;
    const reader = `reader-${process.pid}`;
    const operator = `operator-${process.pid}`;
    const tokensFile = [
      ['admin', 'admin', admin],
      ['grafana', 'read', reader],
      ['oncall', 'operate', operator],
    ]
      .map(([name, role, secret]) => `[[tokens]]\nname = "${name}"\nrole = "${role}"\ntoken = "${secret}"\n`)
      .join('\n');
    const daemon = await daemonFor(t, {
      token: admin,
      tokensFile,
      programs: { 'web.toml': sleeper('boot = true\n\n[environment]\nAPI_KEY = "value-only-admin-sees"\n') },
    });
    await daemon.waitState('web', 'RUNNING');
    const { page, console } = await pageFor(t, daemon);
    console.maybe(/\/api\/v1\/daemon\//, 401);
    console.maybe(/\/api\/v1\/daemon\/events$/, 401);
    const dialog = page.locator('#token-dialog');
    const signInWith = async (secret) => {
      await dialog.waitFor({ state: 'visible' });
      await page.getByLabel('Token', { exact: true }).fill(secret);
      await dialog.getByRole('button', { name: 'Use this token' }).click();
      await dialog.waitFor({ state: 'hidden' });
    };

    // read: the list, live, with a read-only banner and no action anywhere.
    await signInWith(reader);
    await waitText(page, stateIn('web'), 'RUNNING');
    await waitText(page, '#who', 'role: read (grafana)');
    assert.ok(await page.locator('.read-only-banner').isVisible(), 'the read-only banner shows');
    const visibleActions = () =>
      page.evaluate(() =>
        [...document.querySelectorAll('main button')]
          .filter((button) => button.offsetParent !== null)
          .map((button) => button.textContent.trim())
          .filter((label) => /^(Start|Stop|Restart|Enable|Disable|Remove|Send|Save|Run)/.test(label)),
      );
    assert.deepEqual(await visibleActions(), [], 'no action in the list for read');
    await daemon.api('POST', '/programs/web/stop');
    await waitText(page, stateIn('web'), 'STOPPED');
    await page.click(`${row('web')} a.name`);
    await waitText(page, '.program-head .state', 'STOPPED');
    await waitText(page, '#file .notice-inline', "The file's text is not shown to your token's role.");
    await waitText(page, '#logs .notice-inline', "Your token's role cannot read logs.");
    assert.deepEqual(await visibleActions(), [], 'no action on the program page for read');
    assert.ok(!(await page.content()).includes('value-only-admin-sees'), 'no environment value reaches a read token');

    // operate: Start and Stop work; editing and removing stay hidden.
    await page.getByRole('button', { name: 'Forget token' }).click();
    await signInWith(operator);
    await waitText(page, '#who', 'role: operate (oncall)');
    assert.ok(!(await page.locator('.read-only-banner').isVisible()));
    await page.getByRole('button', { name: 'Start', exact: true }).click();
    await waitText(page, '.program-head .state', 'RUNNING');
    const actions = await visibleActions();
    assert.ok(actions.includes('Stop') && actions.includes('Restart'), `operate has Stop and Restart: ${actions}`);
    for (const forbidden of ['Enable', 'Disable', 'Remove…', 'Save']) {
      assert.ok(!actions.includes(forbidden), `operate has no ${forbidden}: ${actions}`);
    }
    await waitText(page, '#file .notice-inline', "The file's text is not shown to your token's role.");
    assert.ok(!(await page.content()).includes('value-only-admin-sees'), 'no environment value reaches an operate token');
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await waitText(page, '.program-head .state', 'STOPPED');
    console.assertClean();
  });
});

describe('on a phone', () => {
  test('the list and a program page fit a narrow screen, light and dark', async (t) => {
    const daemon = await daemonFor(t, {
      programs: {
        'web.toml': sleeper('boot = true\n'),
        'broken.toml': 'command = "sleep 1"\nboot = maybe\n',
      },
    });
    await daemon.waitState('web', 'RUNNING');
    const { page, console } = await pageFor(t, daemon, { viewport: { width: 390, height: 844 }, colorScheme: 'dark' });
    await waitText(page, stateIn('web'), 'RUNNING');
    // Nothing wider than the screen, and every button inside it.
    const overflow = () =>
      page.evaluate(() => {
        const buttons = [...document.querySelectorAll('main button')].filter((button) => button.offsetParent !== null);
        const widest = Math.max(document.documentElement.scrollWidth, ...buttons.map((button) => button.getBoundingClientRect().right));
        return widest - window.innerWidth;
      });
    assert.ok((await overflow()) <= 0, `the list is ${await overflow()} px wider than the screen`);
    // Rows are cards: each cell says what it is.
    assert.equal(
      await page.evaluate(() => getComputedStyle(document.querySelector('td[data-field="pid"]'), '::before').content),
      '"PID"',
    );
    await page.screenshot({ path: screenshotPath('dashboard-phone.png'), fullPage: true });
    await page.click(`${row('web')} a.name`);
    await waitText(page, '.program-head .state', 'RUNNING');
    assert.ok((await overflow()) <= 0, `the program page is ${await overflow()} px wider than the screen`);
    console.assertClean();
  });
});
