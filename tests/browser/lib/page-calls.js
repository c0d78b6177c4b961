// Calls into the SDK on the page, each answering `{value}` or `{error}` so
// a case checks what the SDK resolved or rejected with.
/** `paragon.authenticate(project, token, options)` on the page. */
export function authenticate(sdk, project, token, options) {
  return sdk(
    ([project, token, options]) =>
      window.paragon.authenticate(project, token, options).then(
        (v) => ({ value: v === undefined ? '<undefined>' : v }),
        (e) => ({ error: { message: e.message } }),
      ),
    [project, token, options],
  );
}

/** Authenticates `user` and fails the case when the SDK refuses. */
export async function signIn(sdk, world, user, options) {
  const outcome = await authenticate(sdk, world.project.id, user.token, options);
  if (outcome.error) throw new Error(`authenticate failed: ${outcome.error.message}`);
  return outcome;
}

/** `paragon.getUser()`. */
export const getUser = (sdk) => sdk(() => window.paragon.getUser());

/**
 * `paragon[fn](...args)` for an async SDK function; `{value}` or `{error:
 * {message, response}}`.
 */
export function invoke(sdk, fn, ...args) {
  return sdk(
    ([fn, args]) =>
      Promise.resolve()
        .then(() => window.paragon[fn](...args))
        .then(
          (v) => ({ value: v === undefined ? '<undefined>' : v }),
          (e) => ({ error: { message: e.message, response: e.response ?? null } }),
        ),
    [fn, args],
  );
}
