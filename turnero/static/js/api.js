/* JSON API helper shared by the pages: same-origin fetch with the session cookie, and
   the API's {"error": {"code", "message"}} shape turned into a Spanish message. */
(function () {
  "use strict";

  const GENERIC = {
    400: "La solicitud no es válida.",
    403: "No tiene permiso para esta operación.",
    404: "No se encontró lo solicitado.",
    409: "La operación no es posible en el estado actual.",
    422: "Los datos no son válidos.",
    429: "Demasiadas solicitudes; espere un momento e intente de nuevo.",
  };

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function send(method, url, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    try {
      return await fetch(url, init);
    } catch (e) {
      throw new ApiError(0, "network", "No hay conexión con el servidor. Intente nuevamente.");
    }
  }

  async function fail(res) {
    let err = null;
    try { err = (await res.json()).error; } catch (e) { /* not JSON: use a generic text */ }
    if (res.status === 401) {
      // The page's session (cookie) expired or was closed elsewhere.
      throw new ApiError(401, "unauthorized", "La sesión expiró. Vuelva a iniciar sesión.");
    }
    const message = (err && err.message) || GENERIC[res.status] ||
      "Error del servidor (" + res.status + "). Intente nuevamente.";
    throw new ApiError(res.status, (err && err.code) || "http_" + res.status, message);
  }

  /* -> {status, data}; data is null for 204. Throws ApiError with a Spanish message. */
  async function api(method, url, body) {
    const res = await send(method, url, body);
    if (!res.ok) await fail(res);
    if (res.status === 204) return { status: 204, data: null };
    return { status: res.status, data: await res.json() };
  }

  async function text(url) {
    const res = await send("GET", url);
    if (!res.ok) await fail(res);
    return res.text();
  }

  window.Turnero = { api, text, ApiError };
})();
