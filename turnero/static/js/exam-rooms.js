/* Exam rooms page: create a session (then open its board). */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("rooms-data").textContent);
  const message = document.getElementById("message");

  document.querySelectorAll("form.exam-new-session").forEach(function (form) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const data = new FormData(form);
      const startsAt = data.get("day") + "T" + data.get("time") + ":00" + boot.offset;
      const room = form.dataset.room;
      try {
        const res = await Turnero.api("POST",
          "/api/exam/offices/" + encodeURIComponent(boot.office) + "/rooms/" + encodeURIComponent(room) + "/sessions",
          { starts_at: startsAt, minutes: Number(data.get("minutes")) });
        window.location.href = "/exam/" + encodeURIComponent(boot.office) + "/sessions/" + res.data.id;
      } catch (e) {
        message.textContent = e.message;
        message.className = "message error";
      }
    });
  });
})();
