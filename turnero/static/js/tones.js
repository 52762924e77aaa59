/* Short tones through the Web Audio API: the lobby display's chime, the phone's «es su
   turno» beep and the desk console's pause reminder. A browser lets a page sound only
   after a touch, click or key on it, so each page makes its own AudioContext then. */
(function () {
  "use strict";

  function context() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    return Ctx ? new Ctx() : null;
  }

  // notes: [frequency in Hz, start in s from now, peak gain, length in s]
  function play(ctx, notes) {
    if (!ctx || ctx.state !== "running") return;
    for (const [freq, at, peak, length] of notes) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      const t = ctx.currentTime + at;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(peak, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + length);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + length + 0.05);
    }
  }

  window.TurneroTones = { context, play };
})();
