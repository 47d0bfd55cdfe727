// A program's file in a text box. Saving sends the whole text (POST /programs/put, as
// `hoody-daemon apply` does, so comments and layout stay as typed) with `If-Match` set to the
// ETag of the version that was opened: when the file changed meanwhile (an editor, a git pull,
// another tab), the daemon answers 412 and nothing is overwritten; the page says so and offers
// to reload the file or to save over it knowingly.

import { call, segment } from './api.js';
import { basename, diffView, fill, formatProblem, h } from './dom.js';
import { can, NEEDS } from './session.js';

export function fileEditor(ctx, name) {
  let file = null;
  let etag = null;
  let generation = null;
  let original = '';
  let readOnly = false;

  const where = h('p', { class: 'file-path' });
  const text = h('textarea', {
    class: 'editor',
    spellcheck: 'false',
    autocomplete: 'off',
    autocapitalize: 'off',
    rows: '14',
    'aria-label': `The file of ${name}`,
  });
  const save = h('button', { type: 'button', class: 'primary', disabled: true }, 'Save');
  const revert = h('button', { type: 'button', disabled: true }, 'Revert');
  const dirty = h('span', { class: 'dirty', role: 'status' });
  const messages = h('div', { class: 'editor-messages', 'aria-live': 'polite' });
  const body = h('div', { class: 'editor-body' }, where, text, h('div', { class: 'buttons' }, save, revert, dirty), messages);
  const element = h('div', { class: 'file-editor' }, body);

  function changed() {
    const isDirty = text.value !== original;
    save.disabled = readOnly || !isDirty;
    revert.disabled = !isDirty;
    dirty.textContent = isDirty ? 'unsaved changes' : '';
  }

  /** Shows a version of the program (GET /programs/{id}): its text, file and ETag. */
  function show(program, newEtag) {
    file = program.file;
    etag = newEtag;
    generation = program.generation;
    original = program.text ?? '';
    readOnly = !can(NEEDS.edit);
    fill(where, 'File ', h('code', {}, file ?? '?'), ` · ${program.format ?? ''} · generation ${generation}`);
    if (program.text === undefined || program.text === null) {
      fill(body, where, h('p', { class: 'notice-inline' }, "The file's text is not shown to your token's role."));
      return;
    }
    text.value = original;
    text.rows = Math.min(30, Math.max(6, original.split('\n').length + 2));
    text.readOnly = readOnly;
    changed();
  }

  async function load() {
    try {
      const answer = await call('GET', `/programs/${segment(name)}`);
      show(answer.data.program, answer.etag);
      return answer.data.program;
    } catch (error) {
      ctx.fail(error, `Read ${name}`);
      return null;
    }
  }

  function problemsOf(error) {
    // One problem is the message itself; several are listed.
    const details = Array.isArray(error.details) ? error.details : [];
    return details.length > 1
      ? h('ul', { class: 'problems' }, details.map((problem) => h('li', {}, formatProblem(problem))))
      : null;
  }

  async function put(withEtag) {
    const mine = text.value;
    const headers = withEtag ? { 'If-Match': withEtag } : {};
    save.disabled = true;
    try {
      const answer = await call('POST', '/programs/put', { body: { file: basename(file), text: mine }, headers });
      original = mine;
      etag = answer.etag ?? etag;
      generation = answer.data?.generation ?? generation;
      fill(where, 'File ', h('code', {}, file), ` · generation ${generation}`);
      fill(
        messages,
        h(
          'div',
          { class: 'notice-inline ok', role: 'status' },
          answer.data?.changed === false ? 'Saved: the file was already this text.' : 'Saved. The change:',
          answer.data?.diff ? diffView(answer.data.diff) : null,
        ),
      );
    } catch (error) {
      if (error.status === 412) conflict(mine);
      else if (error.status === 400) {
        fill(
          messages,
          h('div', { class: 'notice-inline error', role: 'alert' }, `Not saved: ${error.message}`, problemsOf(error)),
        );
      } else {
        fill(messages, h('div', { class: 'notice-inline error', role: 'alert' }, `Not saved: ${error.message}`));
        ctx.fail(error, `Save ${name}`);
      }
    } finally {
      changed();
    }
  }

  /** The 412: the file changed since it was opened. Nothing was written. */
  function conflict(mine) {
    const reload = h('button', { type: 'button', class: 'primary' }, 'Reload the file');
    const overwrite = h('button', { type: 'button', class: 'danger' }, 'Save mine over it');
    reload.addEventListener('click', async () => {
      await load();
      fill(
        messages,
        h(
          'div',
          { class: 'notice-inline', role: 'status' },
          'Reloaded the file as it is now. Your text was:',
          h('details', {}, h('summary', {}, 'your edit'), h('pre', { class: 'yours' }, mine)),
        ),
      );
    });
    overwrite.addEventListener('click', async () => {
      const current = await call('GET', `/programs/${segment(name)}`).catch((error) => {
        ctx.fail(error, `Read ${name}`);
        return null;
      });
      if (!current) return;
      text.value = mine;
      await put(current.etag);
    });
    fill(
      messages,
      h(
        'div',
        { class: 'notice-inline conflict', role: 'alert' },
        h('strong', {}, 'Conflict: '),
        `${basename(file)} changed since you opened it (another editor, a git pull, another tab). Your edit was not saved.`,
        h('div', { class: 'buttons' }, reload, overwrite),
      ),
    );
  }

  text.addEventListener('input', changed);
  text.addEventListener('keydown', (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === 's') {
      event.preventDefault();
      if (!save.disabled) put(etag);
    }
  });
  save.addEventListener('click', () => put(etag));
  revert.addEventListener('click', () => {
    text.value = original;
    messages.replaceChildren();
    changed();
  });

  return {
    element,
    load,
    /**
     * The file changed (a config event): a clean editor shows the new version; one with edits
     * keeps them and warns that saving will be refused.
     */
    async onChange(newGeneration) {
      if (generation !== null && newGeneration !== undefined && newGeneration <= generation) return;
      if (text.value === original) {
        await load();
      } else {
        fill(
          messages,
          h(
            'div',
            { class: 'notice-inline conflict', role: 'alert' },
            `${basename(file)} changed on disk (generation ${newGeneration}) while you were editing; saving now will be refused. `,
            h('button', { type: 'button', onclick: () => load().then(() => messages.replaceChildren()) }, 'Reload the file'),
          ),
        );
      }
    },
  };
}
