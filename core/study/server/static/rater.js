"use strict";
// The rater's page: consent -> instructions -> trials (keys 0-9, N) -> done. Every answer is posted and the next
// image appears only once the server has saved it. Nothing here knows what an image shows.
(function () {
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(window.location.search);
  const identity = {};
  for (const key of ["PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "rater"]) {
    if (params.get(key)) identity[key] = params.get(key);
  }
  let stage = "loading";  // loading | consent | instructions | trial | done | full
  let trial = null;
  let shownAt = null;
  let busy = false;

  function screen(id) {
    for (const name of ["startScreen", "trialScreen", "doneScreen", "fullScreen"]) {
      $(name).classList.toggle("hidden", name !== id);
    }
  }
  function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

  async function post(url, body) {
    for (let attempt = 0; ; attempt++) {
      let response;
      try {
        response = await fetch(url, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
        });
      } catch (error) {  // network: the same request again is safe (answers are idempotent)
        if (attempt >= 8) throw new Error("the server cannot be reached; please reload the page");
        $("error").textContent = "Connection lost, retrying…";
        await sleep(500 * (attempt + 1));
        continue;
      }
      if (response.status >= 500 && attempt < 8) { await sleep(500 * (attempt + 1)); continue; }
      const data = await response.json().catch(() => ({ error: "unexpected reply " + response.status }));
      if (!response.ok) { const error = new Error(data.error || String(response.status)); error.status = response.status; throw error; }
      $("error").textContent = "";
      return data;
    }
  }

  function show(data) {
    if (data.stage === "new") {
      stage = "consent";
      screen("startScreen");
      $("startButton").focus();
    } else if (data.stage === "trial") {
      stage = "trial";
      trial = data.trial;
      screen("trialScreen");
      const share = data.total ? data.answered / data.total : 0;
      $("progressFill").style.width = (100 * share).toFixed(1) + "%";
      $("progress").textContent = (data.answered + 1) + " of " + data.total;
      shownAt = null;
      if (trial.prompt) {
        $("digit").classList.add("hidden");
        $("prompt").classList.remove("hidden");
        $("prompt").textContent = trial.prompt;
        shownAt = performance.now();
      } else {
        $("prompt").classList.add("hidden");
        $("digit").classList.remove("hidden");
        $("digit").onload = () => { shownAt = performance.now(); };
        $("digit").src = trial.image;
      }
    } else if (data.stage === "done") {
      stage = "done";
      screen("doneScreen");
      $("completionCode").textContent = data.completion_code;
      if (data.redirect) {
        $("redirectNote").textContent = "Taking you back…";
        window.location.href = data.redirect;
      }
    } else {
      stage = "full";
      screen("fullScreen");
    }
  }

  async function advance() {
    if (busy) return;
    if (stage === "consent") {
      stage = "instructions";
      $("consent").classList.add("hidden");
      $("instructions").classList.remove("hidden");
      $("startButton").textContent = "Start";
      return;
    }
    if (stage !== "instructions") return;
    busy = true;
    try { show(await post("/api/session", Object.assign({ begin: true }, identity))); }
    catch (error) { $("error").textContent = error.message; }
    finally { busy = false; }
  }

  async function answer(label) {
    if (busy || stage !== "trial" || shownAt === null) return;
    busy = true;
    const body = { trial: trial.id, answer: label, response_ms: Math.max(0, Math.round(performance.now() - shownAt)) };
    try {
      show(await post("/api/answer", body));
    } catch (error) {
      $("error").textContent = error.message;
      if (error.status === 409) {
        try { show(await post("/api/session", Object.assign({ begin: false }, identity))); } catch (e) { /* shown above */ }
      }
    } finally {
      busy = false;
    }
  }

  $("startButton").addEventListener("click", advance);
  document.addEventListener("keydown", (event) => {
    if (event.repeat) return;
    if (event.key === "Enter") { if (stage === "consent" || stage === "instructions") { event.preventDefault(); advance(); } return; }
    const key = event.key.toLowerCase();
    if (/^[0-9]$/.test(key)) answer(parseInt(key, 10));
    else if (key === "n") answer(-1);
  });

  post("/api/session", Object.assign({ begin: false }, identity)).then(show, (error) => {
    $("error").textContent = error.message;
  });
})();
