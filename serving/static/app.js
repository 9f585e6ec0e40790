/* Tarozu screening page: plain JavaScript, no framework, no inline code (CSP default-src 'self').
 *
 * Every question, answer, context field and result text comes from the API
 * (GET /v1/questionnaire?lang=, POST /v1/screenings). Only the page chrome (buttons,
 * headings, error messages) lives in the UI dictionary below.
 */
"use strict";

(function () {
  const API = {
    questionnaire: (lang) => "/v1/questionnaire?lang=" + encodeURIComponent(lang),
    screen: "/v1/screenings",
    decision: (id) => "/v1/screenings/" + encodeURIComponent(id) + "/decision",
    list: "/v1/screenings?page=1&page_size=20",
    report: "/v1/audit/report",
    whoami: "/v1/model", // any role may read it: used to check a key at sign-in
  };
  const LANGS = ["en", "ru", "tg"];
  const KEY_STORE = "tarozu.key";
  const DRAFT_STORE = "tarozu.draft";
  const LANG_STORE = "tarozu.lang";
  const TOP_REASONS = 8;
  const TOP_UNANSWERED = 5;

  // ------------------------------------------------------------------ UI chrome strings
  const UI = {
    en: {
      skip: "Skip to content",
      tagline: "Decision support, not a verdict.",
      language: "Language",
      nav_screen: "Screening",
      nav_review: "Review",
      signout: "Sign out",
      signin_h: "Sign in",
      key_label: "API key",
      key_hint: "The key is kept only in this browser tab and is forgotten when the tab is closed.",
      signin_btn: "Sign in",
      key_required: "Enter the API key.",
      signed_in: "Signed in.",
      signed_out: "Signed out.",
      form_h: "Questionnaire",
      form_intro:
        "Go through the questions with the person. A question left unchanged counts as not asked.",
      context_h: "About the migration",
      audit_h: "Optional: used only for the fairness audit",
      audit_note:
        "These answers are stored only to check that the tool treats all groups fairly. Leave them empty if the person prefers.",
      not_given: "Not given",
      unknown_value: "Unknown",
      months_hint: "Whole number from 0 to 600.",
      case_ref: "Case reference (optional, no names)",
      assess_h: "Your own assessment (before seeing any score)",
      assess_hint: "Give your own level of concern first. The score is shown only after that.",
      assess_low: "Low concern",
      assess_medium: "Medium concern",
      assess_high: "High concern",
      submit: "Get the risk score",
      scoring: "Scoring…",
      loading: "Loading…",
      need_assessment:
        "Give your own assessment (low, medium or high concern) before the score can be shown.",
      months_invalid: "Months abroad must be a whole number from 0 to 600.",
      result_h: "Result",
      your_assessment: "Your assessment before the score",
      probability: "Estimated probability",
      interval: "95% interval: {lo}–{hi}",
      risk_level: "Risk level",
      recommendation: "Recommendation",
      reasons_h: "Main reasons",
      reasons_note: "Longer bars matter more. + raises the score, − lowers it.",
      no_reasons: "No answer changed this score.",
      answer: "answer",
      unanswered_h: "Unanswered questions that would change the score most",
      decision_h: "Record your decision",
      decision: "Decision",
      dec_referred: "Referred",
      dec_not_referred: "Not referred",
      dec_needs_more_information: "Needs more information",
      override_reason: "Reason (required if the decision differs from the recommendation)",
      reason_screener_judgement: "My professional judgement",
      reason_additional_information: "Information not covered by the questions",
      reason_person_declined_referral: "The person declined referral",
      reason_answers_unreliable: "The answers seem unreliable",
      reason_other: "Other",
      reason_text: "Note (optional, no names or identifiers)",
      choose: "Choose…",
      record_btn: "Record decision",
      need_decision: "Choose a decision.",
      need_reason: "The decision differs from the recommendation: choose a reason.",
      decision_saved: "Decision recorded.",
      decision_conflict: "A decision was already recorded for this screening.",
      back_to_answers: "Back to the answers",
      new_screening: "New screening",
      new_started: "New screening started; the previous answers were cleared.",
      err_network:
        "The server could not be reached. Check the connection and try again; your answers are kept.",
      err_401: "The key was not accepted. Sign in again; your answers are kept.",
      err_403: "Your key does not allow this action.",
      err_404: "Not found.",
      err_413: "The request is too large.",
      err_422: "The server did not accept this: {field}. Check it and try again; your answers are kept.",
      err_503: "The service is temporarily unavailable; nothing was saved. Try again in a moment.",
      err_500:
        "Something went wrong on the server; nothing was saved. Try again, and report it if it keeps happening.",
      err_questionnaire: "The questionnaire could not be loaded.",
      review_h: "Reviewer view",
      refresh: "Refresh",
      report_h: "Latest fairness report",
      no_report: "No fairness report yet. It appears here after the first fairness audit has been run.",
      screenings_h: "Recent screenings",
      no_screenings: "No screenings yet.",
      col_time: "Time",
      col_assessment: "Screener's assessment",
      col_refer: "Referral recommended",
      col_decision: "Decision",
      col_reason: "Reason",
      yes: "Yes",
      no: "No",
      none: "—",
      band_low: "Low",
      band_medium: "Medium",
      band_high: "High",
    },
    ru: {
      skip: "Перейти к содержанию",
      tagline: "Поддержка решения, а не вердикт.",
      language: "Язык",
      nav_screen: "Скрининг",
      nav_review: "Проверка",
      signout: "Выйти",
      signin_h: "Вход",
      key_label: "API-ключ",
      key_hint: "Ключ хранится только в этой вкладке браузера и забывается при её закрытии.",
      signin_btn: "Войти",
      key_required: "Введите API-ключ.",
      signed_in: "Вход выполнен.",
      signed_out: "Вы вышли.",
      form_h: "Опросник",
      form_intro:
        "Пройдите вопросы вместе с человеком. Вопрос, оставленный без изменений, считается незаданным.",
      context_h: "О миграции",
      audit_h: "Необязательно: используется только для проверки справедливости",
      audit_note:
        "Эти ответы сохраняются только для того, чтобы проверить, что инструмент одинаково справедлив ко всем группам. Оставьте поля пустыми, если человек так предпочитает.",
      not_given: "Не указано",
      unknown_value: "Неизвестно",
      months_hint: "Целое число от 0 до 600.",
      case_ref: "Номер дела (необязательно, без имён)",
      assess_h: "Ваша собственная оценка (до того, как вы увидите результат)",
      assess_hint: "Сначала укажите свой уровень обеспокоенности. Результат будет показан только после этого.",
      assess_low: "Низкая обеспокоенность",
      assess_medium: "Средняя обеспокоенность",
      assess_high: "Высокая обеспокоенность",
      submit: "Получить оценку риска",
      scoring: "Идёт расчёт…",
      loading: "Загрузка…",
      need_assessment:
        "Укажите свою оценку (низкая, средняя или высокая обеспокоенность), прежде чем будет показан результат.",
      months_invalid: "Число месяцев за границей должно быть целым числом от 0 до 600.",
      result_h: "Результат",
      your_assessment: "Ваша оценка до результата",
      probability: "Оценённая вероятность",
      interval: "95% интервал: {lo}–{hi}",
      risk_level: "Уровень риска",
      recommendation: "Рекомендация",
      reasons_h: "Основные причины",
      reasons_note: "Чем длиннее полоса, тем сильнее влияние. «+» повышает оценку, «−» понижает её.",
      no_reasons: "Ни один ответ не повлиял на эту оценку.",
      answer: "ответ",
      unanswered_h: "Вопросы без ответа, которые сильнее всего изменили бы оценку",
      decision_h: "Запишите ваше решение",
      decision: "Решение",
      dec_referred: "Направлен(а)",
      dec_not_referred: "Не направлен(а)",
      dec_needs_more_information: "Нужна дополнительная информация",
      override_reason: "Причина (обязательна, если решение отличается от рекомендации)",
      reason_screener_judgement: "Моё профессиональное суждение",
      reason_additional_information: "Сведения, не охваченные вопросами",
      reason_person_declined_referral: "Человек отказался от направления",
      reason_answers_unreliable: "Ответы кажутся недостоверными",
      reason_other: "Другое",
      reason_text: "Примечание (необязательно, без имён и других идентифицирующих данных)",
      choose: "Выберите…",
      record_btn: "Записать решение",
      need_decision: "Выберите решение.",
      need_reason: "Решение отличается от рекомендации: выберите причину.",
      decision_saved: "Решение записано.",
      decision_conflict: "Решение по этому скринингу уже было записано.",
      back_to_answers: "Вернуться к ответам",
      new_screening: "Новый скрининг",
      new_started: "Начат новый скрининг; прежние ответы удалены.",
      err_network:
        "Не удалось связаться с сервером. Проверьте подключение и попробуйте ещё раз; ваши ответы сохранены.",
      err_401: "Ключ не принят. Войдите снова; ваши ответы сохранены.",
      err_403: "Ваш ключ не даёт права на это действие.",
      err_404: "Не найдено.",
      err_413: "Запрос слишком большой.",
      err_422: "Сервер не принял: {field}. Проверьте и попробуйте ещё раз; ваши ответы сохранены.",
      err_503: "Сервис временно недоступен; ничего не сохранено. Попробуйте чуть позже.",
      err_500:
        "На сервере произошла ошибка; ничего не сохранено. Попробуйте ещё раз и сообщите, если ошибка повторяется.",
      err_questionnaire: "Не удалось загрузить опросник.",
      review_h: "Просмотр для проверяющего",
      refresh: "Обновить",
      report_h: "Последний отчёт о справедливости",
      no_report: "Отчёта о справедливости пока нет. Он появится здесь после первой проверки справедливости.",
      screenings_h: "Последние скрининги",
      no_screenings: "Скринингов пока нет.",
      col_time: "Время",
      col_assessment: "Оценка специалиста",
      col_refer: "Рекомендовано направить",
      col_decision: "Решение",
      col_reason: "Причина",
      yes: "Да",
      no: "Нет",
      none: "—",
      band_low: "Низкий",
      band_medium: "Средний",
      band_high: "Высокий",
    },
    tg: {
      skip: "Гузариш ба мундариҷа",
      tagline: "Ёрӣ барои қабули қарор, на ҳукм.",
      language: "Забон",
      nav_screen: "Скрининг",
      nav_review: "Баррасӣ",
      signout: "Баромадан",
      signin_h: "Ворид шудан",
      key_label: "Калиди API",
      key_hint: "Калид танҳо дар ҳамин варақаи браузер нигоҳ дошта мешавад ва ҳангоми пӯшидани он фаромӯш мешавад.",
      signin_btn: "Ворид шудан",
      key_required: "Калиди API-ро ворид кунед.",
      signed_in: "Шумо ворид шудед.",
      signed_out: "Шумо баромадед.",
      form_h: "Саволнома",
      form_intro:
        "Саволҳоро якҷоя бо шахс гузаред. Саволе, ки бетағйир монад, ҳамчун пурсиданашуда ҳисоб мешавад.",
      context_h: "Дар бораи муҳоҷират",
      audit_h: "Ихтиёрӣ: танҳо барои санҷиши беғаразӣ истифода мешавад",
      audit_note:
        "Ин ҷавобҳо танҳо барои санҷидани он нигоҳ дошта мешаванд, ки абзор ба ҳамаи гурӯҳҳо одилона муносибат мекунад. Агар шахс нахоҳад, онҳоро холӣ гузоред.",
      not_given: "Нишон дода нашуд",
      unknown_value: "Номаълум",
      months_hint: "Адади бутун аз 0 то 600.",
      case_ref: "Рақами парванда (ихтиёрӣ, бе ному насаб)",
      assess_h: "Арзёбии худи Шумо (пеш аз дидани натиҷа)",
      assess_hint: "Аввал дараҷаи нигаронии худро нишон диҳед. Натиҷа танҳо баъд аз он нишон дода мешавад.",
      assess_low: "Нигаронии кам",
      assess_medium: "Нигаронии миёна",
      assess_high: "Нигаронии зиёд",
      submit: "Гирифтани баҳои хатар",
      scoring: "Ҳисоб карда истодаем…",
      loading: "Бор шуда истодааст…",
      need_assessment:
        "Пеш аз нишон додани натиҷа арзёбии худро (нигаронии кам, миёна ё зиёд) нишон диҳед.",
      months_invalid: "Шумораи моҳҳо дар хориҷа бояд адади бутун аз 0 то 600 бошад.",
      result_h: "Натиҷа",
      your_assessment: "Арзёбии Шумо пеш аз натиҷа",
      probability: "Эҳтимолияти тахминӣ",
      interval: "Фосилаи 95%: {lo}–{hi}",
      risk_level: "Сатҳи хатар",
      recommendation: "Тавсия",
      reasons_h: "Сабабҳои асосӣ",
      reasons_note: "Ҳар қадар рах дарозтар бошад, таъсираш ҳамон қадар зиёд аст. «+» баҳоро баланд мекунад, «−» паст мекунад.",
      no_reasons: "Ягон ҷавоб ба ин баҳо таъсир нарасонд.",
      answer: "ҷавоб",
      unanswered_h: "Саволҳои беҷавоб, ки баҳоро аз ҳама бештар тағйир медиҳанд",
      decision_h: "Қарори худро сабт кунед",
      decision: "Қарор",
      dec_referred: "Равон карда шуд",
      dec_not_referred: "Равон карда нашуд",
      dec_needs_more_information: "Маълумоти иловагӣ лозим аст",
      override_reason: "Сабаб (агар қарор аз тавсия фарқ кунад, ҳатмист)",
      reason_screener_judgement: "Хулосаи касбии ман",
      reason_additional_information: "Маълумоте, ки дар саволҳо нест",
      reason_person_declined_referral: "Шахс аз равонкунӣ даст кашид",
      reason_answers_unreliable: "Ҷавобҳо боэътимод ба назар намерасанд",
      reason_other: "Дигар",
      reason_text: "Эзоҳ (ихтиёрӣ, бе ном ва дигар маълумоти шахсӣ)",
      choose: "Интихоб кунед…",
      record_btn: "Сабт кардани қарор",
      need_decision: "Қарорро интихоб кунед.",
      need_reason: "Қарор аз тавсия фарқ мекунад: сабабро интихоб кунед.",
      decision_saved: "Қарор сабт шуд.",
      decision_conflict: "Барои ин скрининг қарор аллакай сабт шудааст.",
      back_to_answers: "Бозгашт ба ҷавобҳо",
      new_screening: "Скрининги нав",
      new_started: "Скрининги нав оғоз шуд; ҷавобҳои пештара тоза карда шуданд.",
      err_network:
        "Бо сервер пайваст шудан нашуд. Пайвастро санҷед ва боз кӯшиш кунед; ҷавобҳои Шумо нигоҳ дошта шудаанд.",
      err_401: "Калид қабул нашуд. Аз нав ворид шавед; ҷавобҳои Шумо нигоҳ дошта шудаанд.",
      err_403: "Калиди Шумо ба ин амал иҷозат намедиҳад.",
      err_404: "Ёфт нашуд.",
      err_413: "Дархост хеле калон аст.",
      err_422: "Сервер инро қабул накард: {field}. Санҷед ва боз кӯшиш кунед; ҷавобҳои Шумо нигоҳ дошта шудаанд.",
      err_503: "Хизматрасонӣ муваққатан дастнорас аст; ҳеҷ чиз сабт нашуд. Каме баъд боз кӯшиш кунед.",
      err_500:
        "Дар сервер хатогӣ рух дод; ҳеҷ чиз сабт нашуд. Боз кӯшиш кунед ва агар такрор шавад, хабар диҳед.",
      err_questionnaire: "Саволномаро бор кардан нашуд.",
      review_h: "Намоиш барои баррасикунанда",
      refresh: "Навсозӣ",
      report_h: "Охирин ҳисобот дар бораи беғаразӣ",
      no_report: "Ҳоло ҳисоботи беғаразӣ нест. Он пас аз гузаронидани аввалин санҷиши беғаразӣ дар ин ҷо пайдо мешавад.",
      screenings_h: "Скринингҳои охирин",
      no_screenings: "Ҳоло ягон скрининг нест.",
      col_time: "Вақт",
      col_assessment: "Арзёбии корманд",
      col_refer: "Равонкунӣ тавсия шуд",
      col_decision: "Қарор",
      col_reason: "Сабаб",
      yes: "Ҳа",
      no: "Не",
      none: "—",
      band_low: "Паст",
      band_medium: "Миёна",
      band_high: "Баланд",
    },
  };

  // ------------------------------------------------------------------ state
  const state = {
    lang: "en",
    key: null,
    q: null, // normalised questionnaire of state.lang
    draft: { answers: {}, context: {}, audit: {}, assessment: null, case_ref: "" },
    result: null, // last ScreeningResult
    resultLang: null, // language the result texts came back in
    resultAssessment: null,
    view: "screen",
  };

  const $ = (id) => document.getElementById(id);
  const t = (key, vars) => {
    let s = (UI[state.lang] && UI[state.lang][key]) || UI.en[key] || key;
    if (vars) Object.keys(vars).forEach((k) => (s = s.split("{" + k + "}").join(vars[k])));
    return s;
  };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach((k) => {
        const v = attrs[k];
        if (v === null || v === undefined || v === false) return;
        if (k === "text") node.textContent = v;
        else if (k === "className") node.className = v;
        else node.setAttribute(k, v === true ? "" : v);
      });
    }
    (children || []).forEach((c) => c && node.appendChild(typeof c === "string" ? document.createTextNode(c) : c));
    return node;
  }

  // ------------------------------------------------------------------ storage
  function store(kind, key, value) {
    try {
      const s = kind === "local" ? window.localStorage : window.sessionStorage;
      if (value === null) s.removeItem(key);
      else s.setItem(key, value);
    } catch (e) {
      /* storage may be disabled; the page still works */
    }
  }
  function load(kind, key) {
    try {
      return (kind === "local" ? window.localStorage : window.sessionStorage).getItem(key);
    } catch (e) {
      return null;
    }
  }
  function saveDraft() {
    store("session", DRAFT_STORE, JSON.stringify(state.draft));
  }

  // ------------------------------------------------------------------ API
  class ApiFailure extends Error {
    constructor(status, body) {
      super("HTTP " + status);
      this.status = status;
      this.body = body;
    }
  }

  async function api(path, options) {
    const opts = Object.assign({ method: "GET" }, options || {});
    const headers = { Accept: "application/json" };
    if (state.key) headers.Authorization = "Bearer " + state.key;
    if (opts.json !== undefined) {
      headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.json);
    }
    let response;
    try {
      response = await fetch(path, { method: opts.method, headers, body: opts.body, cache: "no-store" });
    } catch (e) {
      throw new ApiFailure(0, null);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      body = null;
    }
    if (!response.ok) throw new ApiFailure(response.status, body);
    return body;
  }

  function fieldLabel(path) {
    if (!path) return "";
    const id = String(path).split(".").pop();
    if (id === "screener_assessment") return t("assess_h");
    if (id === "case_ref") return t("case_ref");
    const f = state.q && state.q.byId[id];
    return f ? f.text : id;
  }

  function errorText(err) {
    if (!(err instanceof ApiFailure)) return t("err_500");
    const s = err.status;
    if (s === 0) return t("err_network");
    if (s === 401) return t("err_401");
    if (s === 403) return t("err_403");
    if (s === 404) return t("err_404");
    if (s === 409) return t("decision_conflict");
    if (s === 413) return t("err_413");
    if (s === 400 || s === 422) {
      const e = (err.body && err.body.error) || {};
      return t("err_422", { field: fieldLabel(e.field) || "?" });
    }
    if (s === 503) return t("err_503");
    return t("err_500");
  }

  // ------------------------------------------------------------------ messages
  function showAlert(text) {
    const box = $("alert");
    box.textContent = text || "";
    box.hidden = !text;
  }
  function showStatus(text) {
    $("status").textContent = text || "";
  }
  function clearMessages() {
    showAlert("");
    showStatus("");
  }

  // ------------------------------------------------------------------ questionnaire
  const pick = (o, keys) => {
    for (const k of keys) if (o && o[k] !== undefined && o[k] !== null) return o[k];
    return undefined;
  };
  function normOptions(values) {
    if (!values) return [];
    if (Array.isArray(values)) {
      return values.map((v) =>
        typeof v === "string"
          ? { value: v, label: v }
          : { value: String(pick(v, ["value", "id", "key", "code"])), label: String(pick(v, ["label", "text", "name"]) || pick(v, ["value", "id"])) }
      );
    }
    return Object.keys(values).map((k) => ({ value: k, label: String(values[k]) }));
  }
  function normField(f, kind) {
    const id = pick(f, ["id", "field", "name"]);
    const numeric = f.numeric;
    const isNumeric = !!numeric || f.type === "months" || f.type === "integer" || f.type === "number";
    const range = (numeric && typeof numeric === "object" && numeric) || {};
    return {
      id,
      kind,
      dimension: f.dimension,
      text: String(pick(f, kind === "indicator" ? ["question", "label", "text"] : ["label", "question", "text"]) || id),
      reason: pick(f, ["reason"]),
      options: normOptions(pick(f, ["options", "values", "bins", "levels"])),
      numeric: isNumeric,
      min: pick(range, ["min", "ge"]) !== undefined ? pick(range, ["min", "ge"]) : pick(f, ["min", "minimum"]),
      max: pick(range, ["max", "le"]) !== undefined ? pick(range, ["max", "le"]) : pick(f, ["max", "maximum"]),
    };
  }
  function normalise(raw) {
    const answers = normOptions(raw.answers);
    const indicators = (raw.indicators || []).map((f) => normField(f, "indicator"));
    const context = (raw.context || []).map((f) => normField(f, "context"));
    const audit = (raw.audit || []).map((f) => normField(f, "audit"));
    const dimensions = (raw.dimensions || []).map((d) => {
      const id = pick(d, ["id", "dimension"]);
      const nested = d.indicators ? d.indicators.map((i) => (typeof i === "string" ? i : pick(i, ["id"]))) : null;
      return {
        id,
        label: String(pick(d, ["label", "text", "name"]) || id),
        indicators: nested || indicators.filter((i) => i.dimension === id).map((i) => i.id),
      };
    });
    const byId = {};
    indicators.concat(context, audit).forEach((f) => (byId[f.id] = f));
    const messages = raw.messages || {};
    return {
      raw,
      answers,
      answerLabel: Object.fromEntries(answers.map((a) => [a.value, a.label])),
      indicators,
      dimensions,
      context,
      audit,
      byId,
      messages,
      assessments: normOptions(raw.screener_assessment).length
        ? normOptions(raw.screener_assessment)
        : ["low", "medium", "high"].map((v) => ({ value: v, label: t("assess_" + v) })),
      decisions: (raw.decisions || ["referred", "not_referred", "needs_more_information"]).map((d) =>
        typeof d === "string" ? d : pick(d, ["value", "id"])
      ),
      decisionReasons: (raw.decision_reasons || []).map((d) => (typeof d === "string" ? d : pick(d, ["value", "id"]))),
      unknownValue: raw.unknown_value || t("unknown_value"),
    };
  }

  async function loadQuestionnaire(lang) {
    const raw = await api(API.questionnaire(lang));
    return normalise(raw);
  }

  // ------------------------------------------------------------------ chrome
  function applyChrome() {
    document.documentElement.lang = state.lang;
    document.title = "Tarozu — " + t("nav_screen");
    document.querySelectorAll("[data-t]").forEach((node) => {
      node.textContent = t(node.getAttribute("data-t"));
    });
    $("lang").value = state.lang;
  }

  // ------------------------------------------------------------------ form
  function radio(name, value, label, checked, extra) {
    const id = name + "--" + value;
    const input = el("input", Object.assign({ type: "radio", name, id, value }, extra || {}));
    input.checked = !!checked;
    return el("label", { className: "opt", for: id }, [input, el("span", { text: label })]);
  }

  function selectField(f, group) {
    const current = state.draft[group][f.id];
    const id = "f-" + f.id;
    const wrap = el("div", { className: "field" });
    wrap.appendChild(el("label", { for: id, text: f.text }));
    if (f.numeric) {
      const hintId = id + "-hint";
      const input = el("input", {
        id,
        name: f.id,
        type: "number",
        inputmode: "numeric",
        min: f.min !== undefined ? f.min : 0,
        max: f.max !== undefined ? f.max : 600,
        step: 1,
        "aria-describedby": hintId,
        "data-group": group,
      });
      input.value = current === undefined || current === null ? "" : String(current);
      wrap.appendChild(input);
      wrap.appendChild(el("p", { className: "hint", id: hintId, text: t("months_hint") }));
      return wrap;
    }
    const select = el("select", { id, name: f.id, "data-group": group });
    select.appendChild(el("option", { value: "", text: group === "audit" ? t("not_given") : state.q.unknownValue || t("not_given") }));
    f.options.forEach((o) => select.appendChild(el("option", { value: o.value, text: o.label })));
    select.value = current || "";
    wrap.appendChild(select);
    return wrap;
  }

  function renderForm() {
    const q = state.q;
    const box = $("questions");
    box.textContent = "";
    q.dimensions.forEach((d) => {
      const fs = el("fieldset", { className: "group", id: "dim-" + d.id }, [el("legend", { text: d.label })]);
      d.indicators.forEach((iid) => {
        const f = q.byId[iid];
        if (!f) return;
        const name = "a-" + f.id;
        const answer = state.draft.answers[f.id] || "unknown";
        const opts = el("div", { className: "options" });
        q.answers.forEach((a) => opts.appendChild(radio(name, a.value, a.label, a.value === answer, { "data-group": "answers", "data-field": f.id })));
        fs.appendChild(el("fieldset", { className: "q", id: "q-" + f.id }, [el("legend", { text: f.text }), opts]));
      });
      box.appendChild(fs);
    });

    const ctx = $("context");
    ctx.textContent = "";
    ctx.appendChild(el("legend", { text: t("context_h") }));
    q.context.forEach((f) => ctx.appendChild(selectField(f, "context")));

    const audit = $("audit");
    audit.textContent = "";
    audit.appendChild(el("legend", { text: t("audit_h") }));
    audit.appendChild(el("p", { className: "hint", text: t("audit_note") }));
    q.audit.forEach((f) => audit.appendChild(selectField(f, "audit")));

    const ao = $("assess-options");
    ao.textContent = "";
    q.assessments.forEach((a) => {
      const label = UI[state.lang]["assess_" + a.value] || a.label;
      ao.appendChild(radio("assessment", a.value, label, state.draft.assessment === a.value, { "data-group": "assessment" }));
    });
    $("case_ref").value = state.draft.case_ref || "";
  }

  function onFormInput(event) {
    const target = event.target;
    const group = target.getAttribute("data-group");
    if (target.id === "case_ref") state.draft.case_ref = target.value;
    else if (group === "answers" && target.checked) state.draft.answers[target.getAttribute("data-field")] = target.value;
    else if (group === "assessment" && target.checked) {
      state.draft.assessment = target.value;
      $("assessment").classList.remove("is-missing");
      $("assess-error").hidden = true;
    } else if (group === "context" || group === "audit") {
      if (target.value === "") delete state.draft[group][target.name];
      else state.draft[group][target.name] = target.value;
      target.removeAttribute("aria-invalid");
    }
    saveDraft();
  }

  function buildPayload() {
    const q = state.q;
    const answers = {};
    Object.keys(state.draft.answers).forEach((k) => {
      if (q.byId[k] && state.draft.answers[k] !== "unknown") answers[k] = state.draft.answers[k];
    });
    const context = {};
    for (const f of q.context) {
      const v = state.draft.context[f.id];
      if (v === undefined || v === "") continue;
      if (f.numeric) {
        const n = Number(v);
        const lo = f.min !== undefined ? f.min : 0;
        const hi = f.max !== undefined ? f.max : 600;
        if (!/^\s*\d+\s*$/.test(String(v)) || !Number.isInteger(n) || n < lo || n > hi) {
          return { error: t("months_invalid"), focus: "f-" + f.id };
        }
        context[f.id] = n;
      } else context[f.id] = v;
    }
    const payload = { answers, context, lang: state.lang, screener_assessment: state.draft.assessment };
    const audit = {};
    q.audit.forEach((f) => {
      if (state.draft.audit[f.id]) audit[f.id] = state.draft.audit[f.id];
    });
    if (Object.keys(audit).length) payload.audit = audit;
    const ref = (state.draft.case_ref || "").trim();
    if (ref) payload.case_ref = ref;
    return { payload };
  }

  async function onSubmit(event) {
    event.preventDefault();
    clearMessages();
    // The number input reports "" for text that is not a number: read the raw validity too.
    const months = document.querySelector('#context input[type="number"]');
    if (months && months.validity && months.validity.badInput) {
      months.setAttribute("aria-invalid", "true");
      showAlert(t("months_invalid"));
      months.focus();
      return;
    }
    if (!state.draft.assessment) {
      $("assessment").classList.add("is-missing");
      $("assess-error").hidden = false;
      showAlert(t("need_assessment"));
      const first = document.querySelector('input[name="assessment"]');
      if (first) first.focus();
      return;
    }
    const built = buildPayload();
    if (built.error) {
      const node = $(built.focus);
      if (node) {
        node.setAttribute("aria-invalid", "true");
        node.focus();
      }
      showAlert(built.error);
      return;
    }
    const button = $("submit");
    button.disabled = true;
    showStatus(t("scoring"));
    try {
      const result = await api(API.screen, { method: "POST", json: built.payload });
      state.result = result;
      state.resultLang = built.payload.lang;
      state.resultAssessment = built.payload.screener_assessment;
      $("result").setAttribute("data-screening-id", result.screening_id || "");
      decMessage(null, false);
      $("dform").reset();
      showStatus("");
      renderResult();
      showView("result");
      $("result-h").focus();
    } catch (err) {
      showStatus("");
      showAlert(errorText(err));
      if (err instanceof ApiFailure && err.status === 401) signOut(true);
      else if (err instanceof ApiFailure && err.body && err.body.error && err.body.error.field) {
        const id = String(err.body.error.field).split(".").pop();
        const node = $("f-" + id) || document.querySelector('#q-' + CSS.escape(id) + " input");
        if (node) node.setAttribute("aria-invalid", "true");
      }
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ result
  const pct = (p) => (Math.round(p * 1000) / 10).toLocaleString(state.lang === "en" ? "en" : "ru") + "%";
  const sameLang = () => state.resultLang === state.lang;

  function bandText(outcome) {
    if (sameLang() && outcome.band_label) return outcome.band_label;
    const bands = state.q.messages.bands || {};
    return bands[outcome.band] || t("band_" + outcome.band);
  }
  function outcomeLabel(name, outcome) {
    if (sameLang() && outcome.label) return outcome.label;
    const labels = state.q.messages.outcomes || {};
    return labels[name] || outcome.label || name;
  }
  function reasonText(c) {
    if (sameLang() && c.reason) return c.reason;
    const f = state.q.byId[c.field];
    if (!f) return c.reason || c.field;
    return f.reason || f.text;
  }
  function answerText(c) {
    if (sameLang() && c.answer_text) return c.answer_text;
    const f = state.q.byId[c.field];
    if (f && f.kind === "indicator") return state.q.answerLabel[c.answer] || c.answer;
    if (f) {
      const o = f.options.find((x) => x.value === c.answer);
      if (o) return o.label;
    }
    if (c.answer === "unknown" && state.q.unknownValue) return state.q.unknownValue;
    return c.answer_text || c.answer;
  }

  function bandBadge(band, text) {
    const level = { low: 1, medium: 2, high: 3 }[band] || 0;
    const meter = el("span", { className: "meter", "aria-hidden": "true" });
    for (let i = 1; i <= 3; i++) meter.appendChild(el("span", { className: i <= level ? "on" : "" }));
    return el("span", { className: "band band-" + band, "data-band": band }, [meter, el("span", { className: "band-text", text })]);
  }

  function renderOutcome(name, o) {
    const headingId = "out-" + name;
    const card = el("section", { className: "card outcome", "aria-labelledby": headingId, "data-outcome": name });
    card.appendChild(el("h2", { id: headingId, text: outcomeLabel(name, o) }));
    card.appendChild(el("p", {}, [el("span", { className: "sr-label", text: t("risk_level") + ": " }), bandBadge(o.band, bandText(o))]));
    const interval = o.interval && o.interval.length === 2 ? t("interval", { lo: pct(o.interval[0]), hi: pct(o.interval[1]) }) : "";
    card.appendChild(
      el("p", { className: "prob" }, [t("probability") + ": ", el("strong", { className: "prob-value", text: pct(o.probability) })])
    );
    if (interval) card.appendChild(el("p", { className: "hint interval", text: interval }));

    const contributions = ((o.explanation && o.explanation.contributions) || [])
      .filter((c) => Math.abs(c.contribution) > 1e-9)
      .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
      .slice(0, TOP_REASONS);
    card.appendChild(el("h3", { text: t("reasons_h") }));
    if (!contributions.length) {
      card.appendChild(el("p", { text: t("no_reasons") }));
      return card;
    }
    card.appendChild(el("p", { className: "legend-note", text: t("reasons_note") }));
    const max = Math.max.apply(null, contributions.map((c) => Math.abs(c.contribution)));
    const dirs = state.q.messages.directions || {};
    const list = el("ol", { className: "reasons" });
    contributions.forEach((c) => {
      const up = c.contribution > 0;
      const sign = (up ? "+" : "−") + Math.abs(c.contribution).toFixed(2);
      const bar = el("span", { className: "bar" });
      bar.style.width = Math.max(2, (Math.abs(c.contribution) / max) * 100).toFixed(1) + "%";
      const direction = dirs[up ? "raises" : "lowers"];
      list.appendChild(
        el("li", { className: "reason " + (up ? "up" : "down"), "data-field": c.field }, [
          el("span", { className: "reason-text" }, [
            el("span", { className: "sign", text: sign }),
            el("span", { className: "reason-label", text: reasonText(c) }),
            " (" + t("answer") + ": " + answerText(c) + (direction ? "; " + direction : "") + ")",
          ]),
          el("span", { className: "track", "aria-hidden": "true" }, [bar]),
        ])
      );
    });
    card.appendChild(list);
    return card;
  }

  function renderResult() {
    const r = state.result;
    if (!r) return;
    const a = state.resultAssessment;
    $("result-assessment").textContent = a ? t("your_assessment") + ": " + (UI[state.lang]["assess_" + a] || a) : "";
    const box = $("outcomes");
    box.textContent = "";
    Object.keys(r.outcomes || {}).forEach((name) => box.appendChild(renderOutcome(name, r.outcomes[name])));
    const refer = r.recommendation && r.recommendation.refer;
    const msgs = state.q.messages;
    $("rec-text").textContent =
      sameLang() || !msgs.refer ? r.recommendation.text : refer ? msgs.refer : msgs.no_referral;
    $("caveat").textContent = sameLang() || !msgs.caveat ? r.caveat : msgs.caveat;

    const un = $("unanswered");
    un.textContent = "";
    const unanswered = (r.unanswered || []).slice().sort((x, y) => (y.impact || 0) - (x.impact || 0)).slice(0, TOP_UNANSWERED);
    unanswered.forEach((u) => {
      const f = state.q.byId[u.indicator];
      un.appendChild(el("li", { "data-field": u.indicator, text: sameLang() || !f ? u.question : f.text }));
    });
    $("unanswered-box").hidden = unanswered.length === 0;
    renderDecisionForm();
  }

  function renderDecisionForm() {
    const q = state.q;
    const checked = document.querySelector('input[name="decision"]:checked');
    const chosen = checked ? checked.value : null;
    const reasonSel = $("dec-reason");
    const chosenReason = reasonSel.value;
    const box = $("dec-options");
    box.textContent = "";
    q.decisions.forEach((d) => box.appendChild(radio("decision", d, t("dec_" + d), d === chosen)));
    reasonSel.textContent = "";
    reasonSel.appendChild(el("option", { value: "", text: t("choose") }));
    const reasons = q.decisionReasons.length ? q.decisionReasons : ["screener_judgement", "additional_information", "person_declined_referral", "answers_unreliable", "other"];
    reasons.forEach((r) => reasonSel.appendChild(el("option", { value: r, text: t("reason_" + r) })));
    reasonSel.value = chosenReason;
    if (decMsg) decMessage(decMsg.key, decMsg.isError, decMsg.err);
  }

  function differsFromRecommendation(decision) {
    const refer = !!(state.result && state.result.recommendation && state.result.recommendation.refer);
    return !((refer && decision === "referred") || (!refer && decision === "not_referred"));
  }

  // The decision message is kept as a key so that a language switch re-renders it.
  let decMsg = null;
  function decMessage(key, isError, err) {
    decMsg = key ? { key, isError, err } : null;
    const box = $("dec-msg");
    box.textContent = key ? (err ? errorText(err) : t(key)) : "";
    box.classList.toggle("is-error", !!isError);
  }

  async function onDecision(event) {
    event.preventDefault();
    const checked = document.querySelector('input[name="decision"]:checked');
    if (!checked) {
      decMessage("need_decision", true);
      const first = document.querySelector('input[name="decision"]');
      if (first) first.focus();
      return;
    }
    const reason = $("dec-reason").value;
    if (!reason && differsFromRecommendation(checked.value)) {
      decMessage("need_reason", true);
      $("dec-reason").setAttribute("aria-invalid", "true");
      $("dec-reason").focus();
      return;
    }
    $("dec-reason").removeAttribute("aria-invalid");
    const body = { decision: checked.value };
    if (reason) body.reason = reason;
    const note = $("dec-text").value.trim();
    if (note) body.reason_text = note;
    const button = $("dec-submit");
    button.disabled = true;
    try {
      await api(API.decision(state.result.screening_id), { method: "POST", json: body });
      decMessage("decision_saved", false);
    } catch (err) {
      decMessage("error", true, err);
      if (err instanceof ApiFailure && err.status === 401) signOut(true);
    } finally {
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ reviewer view
  function kvList(obj, depth) {
    const dl = el("dl", { className: "kv" });
    Object.keys(obj).forEach((k) => {
      const v = obj[k];
      let dd;
      if (v && typeof v === "object" && depth < 2) dd = Array.isArray(v) && v.every((x) => typeof x !== "object") ? el("dd", { text: v.join(", ") }) : el("dd", {}, [kvList(v, depth + 1)]);
      else if (v && typeof v === "object") dd = el("dd", { text: JSON.stringify(v) });
      else dd = el("dd", { text: typeof v === "number" ? String(Math.round(v * 1000) / 1000) : String(v) });
      dl.appendChild(el("dt", { text: k }));
      dl.appendChild(dd);
    });
    return dl;
  }

  async function loadReview() {
    const report = $("report");
    const list = $("list");
    report.textContent = t("loading");
    list.textContent = t("loading");
    try {
      const data = await api(API.report);
      report.textContent = "";
      report.appendChild(kvList(data || {}, 0));
    } catch (err) {
      report.textContent = "";
      report.appendChild(el("p", { className: err.status === 404 ? "no-report" : "msg msg-error", text: err.status === 404 ? t("no_report") : errorText(err) }));
    }
    try {
      const page = await api(API.list);
      renderList(page);
    } catch (err) {
      list.textContent = "";
      list.appendChild(el("p", { className: "msg msg-error", text: errorText(err) }));
    }
  }

  function renderList(page) {
    const list = $("list");
    list.textContent = "";
    const items = (page && page.items) || [];
    if (!items.length) {
      list.appendChild(el("p", { text: t("no_screenings") }));
      return;
    }
    const outcomes = state.q.messages.outcomes || {};
    const heads = [t("col_time"), t("col_assessment"), outcomes.labour || "labour", outcomes.sexual || "sexual", t("col_refer"), t("col_decision"), t("col_reason")];
    const table = el("table", { id: "screenings" }, [el("thead", {}, [el("tr", {}, heads.map((h) => el("th", { scope: "col", text: h })))])]);
    const tbody = el("tbody");
    items.forEach((s) => {
      const cells = [
        (s.created_at || "").replace("T", " ").slice(0, 19),
        s.screener_assessment ? UI[state.lang]["assess_" + s.screener_assessment] || s.screener_assessment : t("none"),
        s.labour_probability === null || s.labour_probability === undefined ? t("none") : pct(s.labour_probability),
        s.sexual_probability === null || s.sexual_probability === undefined ? t("none") : pct(s.sexual_probability),
        s.refer ? t("yes") : t("no"),
        s.decision ? t("dec_" + s.decision) : t("none"),
        s.decision_reason ? t("reason_" + s.decision_reason) : t("none"),
      ];
      tbody.appendChild(el("tr", { "data-screening": s.screening_id, "data-decision": s.decision || "" }, cells.map((c) => el("td", { text: c }))));
    });
    table.appendChild(tbody);
    list.appendChild(table);
  }

  // ------------------------------------------------------------------ views
  function showView(view) {
    state.view = view;
    const signedIn = !!state.key;
    $("signin").hidden = signedIn;
    $("nav").hidden = !signedIn;
    $("screen").hidden = !signedIn || view !== "screen";
    $("result").hidden = !signedIn || view !== "result";
    $("review").hidden = !signedIn || view !== "review";
    $("nav-screen").setAttribute("aria-current", view === "review" ? "false" : "page");
    $("nav-review").setAttribute("aria-current", view === "review" ? "page" : "false");
  }

  async function refreshLanguage() {
    applyChrome();
    if (!state.key) return;
    try {
      state.q = await loadQuestionnaire(state.lang);
    } catch (err) {
      showAlert(t("err_questionnaire") + " " + errorText(err));
      if (err instanceof ApiFailure && err.status === 401) signOut(true);
      return;
    }
    renderForm();
    if (state.result) renderResult();
    if (state.view === "review") loadReview();
  }

  function signOut(keepDraft) {
    state.key = null;
    store("session", KEY_STORE, null);
    if (!keepDraft) {
      state.draft = { answers: {}, context: {}, audit: {}, assessment: null, case_ref: "" };
      store("session", DRAFT_STORE, null);
      state.result = null;
    }
    showView(state.view);
    $("apikey").value = "";
    $("apikey").focus();
  }

  async function onSignIn(event) {
    event.preventDefault();
    clearMessages();
    const key = $("apikey").value.trim();
    if (!key) {
      showAlert(t("key_required"));
      $("apikey").focus();
      return;
    }
    state.key = key;
    try {
      await api(API.whoami);
      state.q = await loadQuestionnaire(state.lang);
    } catch (err) {
      state.key = null;
      showAlert(errorText(err));
      return;
    }
    store("session", KEY_STORE, key);
    $("apikey").value = "";
    renderForm();
    showView(state.result ? "result" : "screen");
    showStatus(t("signed_in"));
    $(state.result ? "result-h" : "form-h").focus();
  }

  function newScreening() {
    state.draft = { answers: {}, context: {}, audit: {}, assessment: null, case_ref: "" };
    state.result = null;
    saveDraft();
    $("dec-text").value = "";
    decMessage(null, false);
    $("dform").reset();
    $("assessment").classList.remove("is-missing");
    $("assess-error").hidden = true;
    renderForm();
    clearMessages();
    showView("screen");
    showStatus(t("new_started"));
    $("form-h").focus();
  }

  // ------------------------------------------------------------------ start
  function init() {
    const saved = load("local", LANG_STORE);
    const nav = (navigator.language || "en").slice(0, 2);
    state.lang = LANGS.indexOf(saved) >= 0 ? saved : LANGS.indexOf(nav) >= 0 ? nav : "en";
    try {
      const draft = JSON.parse(load("session", DRAFT_STORE) || "null");
      if (draft && typeof draft === "object") state.draft = Object.assign(state.draft, draft);
    } catch (e) {
      /* a broken draft is ignored */
    }
    state.key = load("session", KEY_STORE);

    $("lang").addEventListener("change", (e) => {
      state.lang = LANGS.indexOf(e.target.value) >= 0 ? e.target.value : "en";
      store("local", LANG_STORE, state.lang);
      clearMessages();
      refreshLanguage();
    });
    $("signin-form").addEventListener("submit", onSignIn);
    $("qform").addEventListener("change", onFormInput);
    $("qform").addEventListener("input", onFormInput);
    $("qform").addEventListener("submit", onSubmit);
    $("dform").addEventListener("submit", onDecision);
    $("dform").addEventListener("change", (e) => {
      if (e.target.id === "dec-reason") e.target.removeAttribute("aria-invalid");
      decMessage(null, false);
    });
    $("signout").addEventListener("click", () => {
      signOut(false);
      showStatus(t("signed_out"));
    });
    $("nav-screen").addEventListener("click", () => {
      clearMessages();
      showView(state.result ? "result" : "screen");
    });
    $("nav-review").addEventListener("click", () => {
      clearMessages();
      showView("review");
      $("review-h").focus();
      loadReview();
    });
    $("refresh").addEventListener("click", loadReview);
    $("back").addEventListener("click", () => {
      state.result = null;
      showView("screen");
      $("form-h").focus();
    });
    $("new").addEventListener("click", newScreening);

    applyChrome();
    showView("screen");
    if (state.key) refreshLanguage();
    else $("apikey").focus();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
