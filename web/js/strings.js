// Every string the pages show, by key.
export const STRINGS = {
  loading: 'Loading…',
};

export function t(key) {
  return STRINGS[key] ?? key;
}
