// The page's logic: microphone -> pcm16 24 kHz -> /v1/realtime (OpenAI GA event shapes);
// transcripts and replies back; barge-in stops local playback and truncates the reply to what
// was played. No framework, no build step.
"use strict";

const RATE = 24000;  // pcm16 at 24 kHz, the realtime API's audio format
const SEND_SAMPLES = 2400;  // 100 ms a message
const PRESETS = {
  en: ["Sure, one moment please.", "Your card has been blocked and a new one is on its way. Is there anything else I can help you with today?", "Thank you for calling, goodbye."],
  es: ["Claro, un momento por favor.", "Su tarjeta ha sido bloqueada y le enviaremos una nueva. ¿Puedo ayudarle en algo más?", "Gracias por llamar, adiós."],
  fr: ["Bien sûr, un instant s'il vous plaît.", "Votre carte a été bloquée et une nouvelle est en route. Puis-je vous aider pour autre chose ?", "Merci de votre appel, au revoir."],
  it: ["Certo, un momento per favore.", "La sua carta è stata bloccata e una nuova è in arrivo. Posso aiutarla in altro?", "Grazie per la chiamata, arrivederci."],
  de: ["Gern, einen Moment bitte.", "Ihre Karte wurde gesperrt, eine neue ist unterwegs. Kann ich sonst noch helfen?", "Danke für Ihren Anruf, auf Wiederhören."],
  pt: ["Claro, um momento por favor.", "O seu cartão foi bloqueado e um novo está a caminho. Posso ajudar em mais alguma coisa?", "Obrigado pela chamada, adeus."],
  ru: ["Конечно, одну минуту.", "Ваша карта заблокирована, новая уже в пути. Могу ли я ещё чем-нибудь помочь?", "Спасибо за звонок, до свидания."],
};

const $ = (id) => document.getElementById(id);
// what happened, for people and for the browser test (window.voiceStats)
const stats = { finals: [], interims: 0, replies: [], bargeIns: [], errors: [] };
window.voiceStats = stats;

const app = {
  ws: null, ctx: null, stream: null, source: null, node: null,
  buffer: new Float32Array(SEND_SAMPLES), filled: 0, resample: null,
  turns: new Map(), turnCount: 0,
  response: null, playHead: 0,
};

function setStatus(text, error) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", !!error);
  document.body.dataset.status = error ? "error" : text;
}

function send(event) {
  if (app.ws && app.ws.readyState === WebSocket.OPEN) app.ws.send(JSON.stringify(event));
}

function socketUrl() {
  const url = new URL("/v1/realtime", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("model", "voice");
  const key = new URLSearchParams(location.search).get("api_key");
  if (key) url.searchParams.set("api_key", key);
  return url.toString();
}

function sessionUpdate() {
  send({
    type: "session.update",
    session: {
      type: "realtime",
      output_modalities: ["audio"],
      audio: {
        input: {
          format: { type: "audio/pcm", rate: RATE },
          transcription: { model: "whisper-1", language: $("language").value },
          // semantic: the server's end-of-turn model ends a turn as soon as you have finished
          turn_detection: { type: "semantic_vad", eagerness: "auto", interrupt_response: true },
        },
        output: { format: { type: "audio/pcm", rate: RATE } },
      },
    },
  });
}

// -- microphone -------------------------------------------------------------------------------
function base64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function makeResampler(from, to) {  // linear, keeps its phase across blocks
  if (from === to) return (x) => x;
  const step = from / to;
  let pos = 0, last = 0;
  return (x) => {
    const out = [];
    while (pos < x.length) {
      const i = Math.floor(pos), frac = pos - i;
      const a = i === 0 ? last : x[i - 1], b = x[i];
      out.push(a + (b - a) * frac);
      pos += step;
    }
    pos -= x.length;
    last = x[x.length - 1];
    return Float32Array.from(out);
  };
}

function onSamples(block) {
  let sum = 0;
  for (let i = 0; i < block.length; i++) sum += block[i] * block[i];
  $("level").firstElementChild.style.width = Math.min(100, Math.sqrt(sum / block.length) * 400) + "%";
  const samples = app.resample(block);
  for (let i = 0; i < samples.length; i++) {
    app.buffer[app.filled++] = samples[i];
    if (app.filled === SEND_SAMPLES) {
      const pcm = new Int16Array(SEND_SAMPLES);
      for (let j = 0; j < SEND_SAMPLES; j++) {
        const s = Math.max(-1, Math.min(1, app.buffer[j]));
        pcm[j] = s < 0 ? s * 0x8000 : s * 0x7fff;
      }
      send({ type: "input_audio_buffer.append", audio: base64(new Uint8Array(pcm.buffer)) });
      app.filled = 0;
    }
  }
}

async function start() {
  $("start").disabled = true;
  try {
    app.ctx = new AudioContext({ sampleRate: RATE });
    await app.ctx.resume();
    app.stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    app.resample = makeResampler(app.ctx.sampleRate, RATE);
    app.source = app.ctx.createMediaStreamSource(app.stream);
    if (app.ctx.audioWorklet) {
      await app.ctx.audioWorklet.addModule("/static/capture.js");
      app.node = new AudioWorkletNode(app.ctx, "capture");
      app.node.port.onmessage = (e) => onSamples(e.data);
    } else {  // older browsers
      app.node = app.ctx.createScriptProcessor(2048, 1, 1);
      app.node.onaudioprocess = (e) => onSamples(e.inputBuffer.getChannelData(0));
    }
    connect();
  } catch (err) {
    setStatus("microphone: " + err.message, true);
    stats.errors.push(String(err));
    $("start").disabled = false;
  }
}

function connect() {
  setStatus("connecting");
  const ws = app.ws = new WebSocket(socketUrl());
  ws.onmessage = (m) => handle(JSON.parse(m.data));
  ws.onclose = (e) => {
    if (app.ws === ws) stop();
    setStatus("disconnected (" + e.code + ")", e.code !== 1000 && e.code !== 1005);
  };
  ws.onerror = () => setStatus("WebSocket error", true);
}

function stop() {
  const ws = app.ws;
  app.ws = null;
  if (ws && ws.readyState <= WebSocket.OPEN) ws.close(1000);
  if (app.source) app.source.disconnect();
  if (app.node) app.node.disconnect();
  if (app.stream) app.stream.getTracks().forEach((t) => t.stop());
  stopPlayback();
  app.source = app.node = app.stream = null;
  $("start").disabled = false;
  $("stop").disabled = $("speak").disabled = $("cancel").disabled = true;
  document.body.dataset.reply = "idle";
}

// -- the conversation on the page -----------------------------------------------------------
function row(id, who, cls) {
  let el = document.getElementById("turn-" + id);
  if (!el) {
    el = document.createElement("div");
    el.id = "turn-" + id;
    el.className = "turn " + cls;
    el.innerHTML = '<div class="who"></div><div class="text"></div>';
    el.querySelector(".who").textContent = who;
    $("turns").appendChild(el);
    $("turns").scrollTop = $("turns").scrollHeight;
  }
  return el;
}

function setLanguage(el, language) {
  const who = el.querySelector(".who");
  let badge = who.querySelector(".lang");
  if (!language) return;
  if (!badge) {
    badge = document.createElement("span");
    badge.className = "lang";
    who.appendChild(badge);
  }
  badge.textContent = language;
}

function userTurn(itemId) {
  let turn = app.turns.get(itemId);
  if (!turn) {
    turn = { number: ++app.turnCount, stoppedAt: null, text: "" };
    turn.el = row(itemId, "you", "user interim");
    turn.el.querySelector(".text").textContent = "…";
    app.turns.set(itemId, turn);
  }
  return turn;
}

function latencyRow(turn) {
  if (!turn.latency) {
    turn.latency = document.createElement("tr");
    turn.latency.innerHTML = "<td></td><td></td><td></td><td></td><td></td><td></td>";
    turn.latency.cells[0].textContent = turn.number;
    $("latency").prepend(turn.latency);
  }
  return turn.latency;
}

function ms(value) { return value == null ? "" : Math.round(value) + " ms"; }

function handle(ev) {
  const type = ev.type;
  if (type === "session.created") {
    setStatus("connected");
    sessionUpdate();
  } else if (type === "session.updated") {
    setStatus("listening");
    $("stop").disabled = false;
    $("speak").disabled = !!app.response;
    if (app.source && !app.wired) {  // start sending once the session has its format
      app.source.connect(app.node);
      app.node.connect(app.ctx.destination);  // the worklet outputs silence; this keeps it running
      app.wired = true;
    }
  } else if (type === "input_audio_buffer.speech_started") {
    userTurn(ev.item_id);
  } else if (type === "input_audio_buffer.speech_stopped") {
    userTurn(ev.item_id).stoppedAt = performance.now();
  } else if (type === "conversation.item.input_audio_transcription.delta") {
    const turn = userTurn(ev.item_id);
    turn.text += ev.delta || "";
    const text = ev.interim != null ? ev.interim : turn.text;
    if (text) turn.el.querySelector(".text").textContent = text;
    setLanguage(turn.el, ev.language);
    stats.interims++;
  } else if (type === "conversation.item.input_audio_transcription.completed") {
    const turn = userTurn(ev.item_id);
    const language = ev.language || (ev.languages && ev.languages[0] && ev.languages[0].code) || "";
    turn.el.classList.remove("interim");
    turn.el.classList.add("final");
    turn.el.querySelector(".text").textContent = ev.transcript || "(nothing recognised)";
    setLanguage(turn.el, language);
    const after = turn.stoppedAt == null ? null : performance.now() - turn.stoppedAt;
    const cells = latencyRow(turn).cells;
    cells[1].textContent = language;
    cells[2].textContent = ms(after);
    cells[3].textContent = ms(ev.latency_ms);
    app.lastTurn = turn;
    stats.finals.push({ text: ev.transcript, language, afterMs: after, decodeMs: ev.latency_ms });
  } else if (type === "response.created") {
    if (app.response) app.response.id = ev.response.id;
  } else if (type === "response.output_item.added") {
    if (app.response) {
      app.response.itemId = ev.item.id;
      app.response.el = row(ev.item.id, "service", "assistant");
    }
  } else if (type === "response.output_audio.delta" || type === "response.audio.delta") {
    play(ev.delta);
  } else if (type === "response.output_audio_transcript.delta" || type === "response.audio_transcript.delta") {
    if (app.response && app.response.el) {
      app.response.text += ev.delta;
      app.response.el.querySelector(".text").textContent = app.response.text;
    }
  } else if (type === "response.done") {
    responseDone(ev.response);
  } else if (type === "conversation.item.truncated") {
    const el = document.getElementById("turn-" + ev.item_id);
    if (el) {
      el.querySelector(".text").textContent = ev.transcript != null ? ev.transcript : el.querySelector(".text").textContent;
      el.classList.add("cut");
    }
  } else if (type === "error") {
    setStatus(ev.error.message, true);
    stats.errors.push(ev.error);
  }
}

// -- replies ------------------------------------------------------------------------------------
function speak(text) {
  text = (text || "").trim();
  if (!text || app.response || !app.ws) return;
  app.response = { text: "", requestedAt: performance.now(), firstAudioAt: null, sources: [], startAt: null,
                   queuedMs: 0, turn: app.lastTurn || null };
  document.body.dataset.reply = "requested";
  $("speak").disabled = true;
  $("cancel").disabled = false;
  send({ type: "response.create", response: { output_modalities: ["audio"], input: [
    { type: "message", role: "assistant", content: [{ type: "output_text", text }] }] } });
}

function play(b64) {
  const r = app.response;
  if (!r) return;
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const pcm = new Int16Array(bytes.buffer, 0, bytes.length >> 1);
  if (!pcm.length) return;
  const buffer = app.ctx.createBuffer(1, pcm.length, RATE);
  const data = buffer.getChannelData(0);
  for (let i = 0; i < pcm.length; i++) data[i] = pcm[i] / 0x8000;
  const node = app.ctx.createBufferSource();
  node.buffer = buffer;
  node.connect(app.ctx.destination);
  const at = Math.max(app.ctx.currentTime + 0.02, app.playHead);
  if (r.startAt == null) {
    r.startAt = at;
    r.firstAudioAt = performance.now();
    document.body.dataset.reply = "playing";
    if (r.turn) latencyRow(r.turn).cells[4].textContent = ms(r.firstAudioAt - r.requestedAt);
    stats.replies.push({ firstAudioMs: r.firstAudioAt - r.requestedAt });
  }
  node.start(at);
  app.playHead = at + buffer.duration;
  r.queuedMs += buffer.duration * 1000;
  r.sources.push(node);
}

function playedMs(r) {
  if (r.startAt == null) return 0;
  return Math.max(0, Math.min(r.queuedMs, (app.ctx.currentTime - r.startAt) * 1000));
}

function stopPlayback(r = app.response) {
  if (r) r.sources.forEach((s) => { try { s.stop(); } catch (e) { /* not started */ } });
  if (app.ctx) app.playHead = app.ctx.currentTime;
}

function responseDone(response) {
  const r = app.response;
  app.response = null;
  $("speak").disabled = !app.ws;
  $("cancel").disabled = true;
  document.body.dataset.reply = "idle";
  if (!r) return;
  if (response.status === "cancelled") {
    const played = Math.round(playedMs(r));
    stopPlayback(r);
    if (r.itemId) send({ type: "conversation.item.truncate", item_id: r.itemId, content_index: 0, audio_end_ms: played });
    const details = response.status_details || {};
    if (details.reason === "turn_detected") {
      stats.bargeIns.push({ playedMs: played, serverPlayedMs: details.audio_end_ms, heard: details.transcript });
      if (r.turn) latencyRow(r.turn).cells[5].textContent = "after " + (played / 1000).toFixed(1) + " s";
    }
  }
}

function presets() {
  const box = $("presets");
  box.textContent = "";
  (PRESETS[$("language").value] || PRESETS.en).forEach((text) => {
    const b = document.createElement("button");
    b.textContent = text.length > 48 ? text.slice(0, 46) + "…" : text;
    b.title = text;
    b.onclick = () => { $("reply-text").value = text; speak(text); };
    box.appendChild(b);
  });
}

$("start").onclick = start;
$("stop").onclick = stop;
$("speak").onclick = () => speak($("reply-text").value);
$("reply-text").onkeydown = (e) => { if (e.key === "Enter") speak($("reply-text").value); };
$("cancel").onclick = () => send({ type: "response.cancel" });
$("language").onchange = () => { presets(); if (app.ws) sessionUpdate(); };
presets();
document.body.dataset.reply = "idle";
