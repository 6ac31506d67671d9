// The admin API as the dashboard calls it: through the browser's HttpOnly session cookie, with
// the session's CSRF token on every call that changes something. The admin token itself is sent
// once, by logIn, and never kept. A 401 means the session has ended: callers get SessionEnded
// and the app goes back to the login view.

let csrfToken = '';

export class SessionEnded extends Error {
  constructor() {
    super('Your session has ended.');
    this.name = 'SessionEnded';
  }
}

export class ApiError extends Error {
  constructor(status, error, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.error = error;
  }
}

async function call(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (failure) {
    throw new ApiError(0, 'network', 'The server could not be reached. Check that it is running.');
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch (notJson) {
    answer = null;
  }
  if (response.ok) return answer;
  const error = answer && typeof answer.error === 'string' ? answer.error : 'unknown';
  const message = answer && typeof answer.message === 'string' ? answer.message : '';
  throw new ApiError(response.status, error, message);
}

// A read: a 401 ends the session.
export async function get(path) {
  try {
    return await call('GET', path);
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) throw new SessionEnded();
    throw failure;
  }
}

// A change (POST), with the CSRF header.
export async function post(path, body) {
  try {
    return await call('POST', path, body);
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) throw new SessionEnded();
    throw failure;
  }
}

// Who is logged in ({name, roles, expires_at_ms}), or null when no session is open.
export async function currentSession() {
  try {
    const session = await call('GET', '/v1/admin/session');
    csrfToken = session.csrf_token || '';
    return session;
  } catch (failure) {
    if (failure instanceof ApiError && failure.status === 401) return null;
    throw failure;
  }
}

// Opens a session with an admin token. The token goes to the server in this one request.
export async function logIn(token) {
  const session = await call('POST', '/v1/admin/session', { token });
  csrfToken = session.csrf_token || '';
  return session;
}

export async function logOut() {
  try {
    await call('DELETE', '/v1/admin/session');
  } finally {
    csrfToken = '';
  }
}

export function forgetSession() {
  csrfToken = '';
}
