/* The office's live board channel (/ws/offices/{office}/board), shared by the lobby
   display, the citizen ticket page, the desk console and the kiosk.

   Turnero.liveBoard(office, {onSnapshot, onEvent, onStatus, pingSeconds, pollWhileDown})
   - onSnapshot(board): the whole board (first message, after a gap, after a reconnect);
   - onEvent(event): events in seq order, never one twice, never one missing (a gap
     asks the server for a new snapshot and skips events until it arrives);
   - onStatus("live" | "connecting" | "offline"): for a discreet badge;
   - with `ticket` (a ticket's public id), onTicket(view): that ticket's own state
     (place, estimated wait, status, desk) whenever it changes — the server computes
     it, so a page following its ticket never has to re-read it after a queue change.
   Reconnects by itself with backoff and jitter; a silent socket (no message, not even
   the server's ping, for 2 ping intervals) is treated as dead: closed, and reconnected.
   With pollWhileDown the board JSON is re-read every 15 s while the socket is down, and
   every 5 s while the server's pings say its event bus is down (`"bus": "down"`: only
   that instance's own events reach the socket then), so no screen stays stale; those
   snapshots come with `polled: true`. A poll that succeeds while the socket is down
   reconnects it at once. */
(function () {
  "use strict";

  const CLOSE_UNKNOWN_OFFICE = 4404;

  function liveBoard(office, opts) {
    const o = Object.assign({ pingSeconds: 20, pollWhileDown: false }, opts || {});
    const path = "/ws/offices/" + encodeURIComponent(office) + "/board"
      + (o.ticket ? "?ticket=" + encodeURIComponent(o.ticket) : "");
    let ws = null;
    let seq = null;          // seq of the state we hold; null until a snapshot
    let waitingSnapshot = true;
    let attempt = 0;
    let retryTimer = null;
    let watchdog = null;
    let pollTimer = null;
    let status = "";
    let stopped = false;
    let busDown = false;     // the server says its bus is away: read the board over HTTP too

    function setStatus(s) {
      if (s === status) return;
      status = s;
      if (o.onStatus) o.onStatus(s);
      if (s === "live" && !busDown) stopPolling(); else if (o.pollWhileDown) startPolling();
    }

    function url() {
      const scheme = location.protocol === "https:" ? "wss://" : "ws://";
      return scheme + location.host + path;
    }

    function armWatchdog() {
      clearTimeout(watchdog);
      // Silent for two ping intervals: dead (a half-open TCP connection never says so).
      watchdog = setTimeout(() => {
        const sock = ws;
        if (!sock) return;
        ws = null;  // treated as closed now: the browser's close handshake may take long
        try { sock.close(4000, "sin latido"); } catch (e) { /* already closing */ }
        scheduleRetry();
      }, o.pingSeconds * 2000);
    }

    function connect() {
      if (stopped) return;
      clearTimeout(retryTimer);
      setStatus(attempt === 0 ? "connecting" : "offline");
      waitingSnapshot = true;
      let sock;
      try { sock = new WebSocket(url()); } catch (e) { scheduleRetry(); return; }
      ws = sock;
      sock.onopen = armWatchdog;
      sock.onmessage = (m) => {
        if (sock !== ws) return;
        armWatchdog();
        let msg;
        try { msg = JSON.parse(m.data); } catch (e) { return; }
        handle(msg, sock);
      };
      sock.onclose = (ev) => {
        if (sock !== ws) return;
        ws = null;
        clearTimeout(watchdog);
        if (ev.code === CLOSE_UNKNOWN_OFFICE) { stopped = true; setStatus("offline"); return; }
        scheduleRetry();
      };
      sock.onerror = () => { /* onclose follows */ };
    }

    function scheduleRetry() {
      if (stopped) return;
      setStatus("offline");
      attempt += 1;
      // 1 s, 2 s, 4 s … up to 30 s, with jitter so a room of screens does not reconnect in step.
      const base = Math.min(30000, 1000 * Math.pow(2, Math.min(attempt - 1, 5)));
      retryTimer = setTimeout(connect, base * (0.6 + Math.random() * 0.8));
    }

    function handle(msg, sock) {
      if (msg.type === "snapshot") {
        seq = msg.seq;
        waitingSnapshot = false;
        attempt = 0;
        setStatus("live");
        if (o.onSnapshot) o.onSnapshot(msg);
        return;
      }
      if (msg.type === "ping") {
        // A ping says which event came last: one we lack means the tail was lost. Still
        // waiting for a snapshot at a ping means it was lost on the way (a proxy, a channel
        // that was silent when the socket opened): ask again, or the socket would stay
        // open, kept alive by pings, and never go live (the server rate-limits resyncs).
        if (waitingSnapshot || (seq !== null && msg.last_seq > seq)) resync(sock);
        setBusDown(msg.bus === "down");
        if (o.onPing) o.onPing(msg);
        return;
      }
      if (msg.type === "ticket.update") { if (o.onTicket) o.onTicket(msg.ticket); return; }
      if (msg.type === "pong" || msg.type === "error" || typeof msg.seq !== "number") return;
      if (waitingSnapshot || seq === null || msg.seq <= seq) return;
      if (msg.seq !== seq + 1) { resync(sock); return; }
      seq = msg.seq;
      if (o.onEvent) o.onEvent(msg);
    }

    function resync(sock) {
      waitingSnapshot = true;
      try { sock.send(JSON.stringify({ type: "resync" })); } catch (e) { sock.close(); }
    }

    function setBusDown(down) {
      if (down === busDown) return;
      busDown = down;
      if (!o.pollWhileDown) return;
      stopPolling();
      if (busDown || status !== "live") startPolling();
    }

    async function poll() {
      try {
        const res = await fetch("/api/offices/" + encodeURIComponent(office) + "/board",
          { headers: { Accept: "application/json" }, cache: "no-store" });
        if (res.ok && (status !== "live" || busDown) && o.onSnapshot) {
          o.onSnapshot(Object.assign(await res.json(), { polled: true }));
        }
        // The server answers again: try the socket now rather than at the end of a backoff
        // that grew while it was away (up to 30 s). The backoff itself is kept, so a socket
        // that a proxy refuses is still tried only as often as the board is polled.
        if (res.ok && !ws && !stopped && status !== "live") {
          clearTimeout(retryTimer);
          connect();
        }
      } catch (e) { /* still offline */ }
    }

    function startPolling() {
      if (pollTimer || stopped) return;
      // At once (spread over a few seconds, so a room of screens does not read in step):
      // while the bus is down, the calls other instances make are only read this way.
      if (busDown || status === "offline") setTimeout(poll, Math.random() * 3000);
      pollTimer = setInterval(poll, busDown ? 5000 : 15000);
    }

    function stopPolling() {
      clearInterval(pollTimer);
      pollTimer = null;
    }

    // A phone waking up or a TV coming back from standby: reconnect at once.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !ws && !stopped) { attempt = 0; connect(); }
    });
    window.addEventListener("online", () => { if (!ws && !stopped) { attempt = 0; connect(); } });

    connect();
    return {
      get seq() { return seq; },
      get status() { return status; },
      close() { stopped = true; clearTimeout(retryTimer); clearTimeout(watchdog); stopPolling(); if (ws) ws.close(); },
    };
  }

  window.Turnero = Object.assign(window.Turnero || {}, { liveBoard });
})();
