// What the page knows right now; modules read it and call `refresh()` after a change.

export const state = {
  me: null, // {name, scopes, appId, readOnly}
  apps: [],
  appId: null,
  servers: [],
  presets: [],
  refreshHandlers: [],
  // Set by editor.js (which imports the server list, so the list cannot import it back).
  openEditor: () => {},
  // Set by template-grid.js (the editor reloads the grid after a save through it).
  refreshTemplates: async () => {},
};

export function canWrite() {
  return Boolean(state.me && !state.me.readOnly);
}

export function currentApp() {
  return state.apps.find((app) => app.id === state.appId) || null;
}

export async function refresh() {
  for (const handler of state.refreshHandlers) {
    await handler();
  }
}
