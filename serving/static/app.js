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
  // Where older pages kept the key (sessionStorage): cleared at start. The key now lives in
  // this page's memory only, so a reload or a new tab asks for it again.
  const OLD_KEY_STORE = "tarozu.key";
  const DRAFT_STORE = "tarozu.draft";
  const LANG_STORE = "tarozu.lang";
  const TOP_REASONS = 8;
  const TOP_NEXT = 5;
  // The answers a screener can give to a question that was put; anything else is not asked.
  const GIVEN = ["yes", "no", "dont_know", "declined"];
  const DANGER = ["yes", "no", "declined"];
  const NOT_ASKED_REASONS = ["not_reached", "not_safe_here", "deferred"];
  const STATUSES = ["refer", "no_referral", "ask_more"];
  // The migrant_status of a relative screened about someone away: asked the family module.
  const FAMILY = "family_member";

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
      key_hint: "The key is kept only in this page's memory: it is forgotten when the page is reloaded or closed.",
      signin_btn: "Sign in",
      key_required: "Enter the API key.",
      signed_in: "Signed in.",
      signed_out: "Signed out.",
      form_h: "Questionnaire",
      form_intro:
        "Go through the questions with the person. A question left without an answer counts as not asked: it has no effect on the score. A declined question is never evidence.",
      context_h: "About the migration",
      monitoring_h: "Optional: used only for the fairness audit",
      monitoring_note:
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
      submit: "Show the signs and next steps",
      scoring: "Scoring…",
      loading: "Loading…",
      need_assessment:
        "Give your own assessment (low, medium or high concern) before the score can be shown.",
      months_invalid: "Months abroad must be a whole number from 0 to 600.",
      result_h: "Result",
      your_assessment: "Your assessment before the score",
      probability: "Estimated probability",
      interval: "95% interval: {lo}–{hi}",
      signs_level: "Signs in the answers",
      tier_next: "Next step",
      tier_leaning: "Not settled. The answers so far point to",
      recommendation: "Recommendation",
      reasons_h: "Main reasons",
      reasons_note: "Longer bars matter more. + raises the score, − lowers it.",
      no_reasons: "No answer changed this score.",
      answer: "answer",
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
      err_withdrawn: "Scoring is stopped: an administrator withdrew the model. Nothing was saved. Screen without the tool and tell your supervisor. Details:",
      err_500:
        "Something went wrong on the server; nothing was saved. Try again, and report it if it keeps happening.",
      err_questionnaire: "The questionnaire could not be loaded.",
      review_h: "Reviewer view",
      refresh: "Refresh",
      report_h: "Latest fairness report",
      no_report: "The model being served has no fairness report yet. It appears here once a fairness audit of this model has been run and the model reloaded.",
      report_model: "Model",
      report_data: "Data",
      report_rows: "rows",
      report_words: "In the report's own words (English):",
      report_all: "Every figure of the report",
      screenings_h: "Recent screenings",
      no_screenings: "No screenings yet.",
      col_time: "Time",
      col_assessment: "Screener's assessment",
      col_refer: "Referral recommended",
      col_decision: "Decision",
      col_reason: "Reason",
      yes: "Yes",
      no: "No",
      declined: "Declined to answer",
      none: "—",
      band_low: "Low",
      band_medium: "Medium",
      band_high: "High",
      child_h: "Adults only",
      child_notice: "Tarozu is not for children. If the person is under 18, do not go on: follow the child-protection procedure.",
      synthetic_notice: "The model in use was trained on synthetic (generated) data and is not validated for field use. Treat its suggestions as a demonstration; your judgement and your programme's procedures decide.",
      consent_5: "A computer program helps me: from your answers it suggests whether to offer you a referral. It does not decide anything about you; people do.",
      child_stop: "The person is under 18. Tarozu is not validated for children: stop here and follow the child-protection procedure. Nothing was sent or recorded.",
      consent_h: "Consent: read this to the person before any question",
      consent_intro: "Say your name and the organisation you work for, then read:",
      consent_1: "I am asking these questions to find out whether you may need help or protection in connection with migration for work.",
      consent_2: "Your answers are recorded without your name. They are used only to decide whether to offer you a referral to specialist services, and to check that this tool is fair to everyone.",
      consent_3: "You may leave any question unanswered, and you may stop at any time.",
      consent_4: "The help you can get does not depend on whether you answer.",
      consent_check: "The person heard this and agrees to go on.",
      need_consent: "Record the person's consent first: read them the statement above and tick the box.",
      who_h: "Ask first",
      who_hint: "Who is being screened decides which questions are put: those that do not apply to this person are hidden.",
      hidden_n: "{n} questions do not apply to this person: they are hidden and recorded as not applicable.",
      age_hint: "Optional. Under 18: stop and follow the child-protection procedure.",
      danger_h: "Safety first",
      danger_q: "Are you, or is anyone close to you, in danger now?",
      danger_note: "Protection comes first: follow the emergency and referral procedure now, whatever the score.",
      not_asked_label: "Not asked:",
      not_asked_none: "—",
      na_not_applicable: "Does not apply to this person",
      na_not_reached: "Not reached in this interview",
      na_not_safe_here: "Not safe to ask here",
      na_deferred: "Left for a later conversation",
      clear: "Clear",
      clear_answer: "Clear the answer",
      urgent_h: "Urgent",
      urgent_text: "Asked whether they or anyone close to them is in danger now, the person said yes.",
      status_refer: "Refer to a service",
      status_no_referral: "No referral now",
      status_ask_more: "Ask more questions",
      not_settled: "Not settled yet: no level of signs until more questions are asked.",
      range: "With the questions not yet asked, the estimate could still be anywhere from {lo} to {hi}.",
      next_h_ask: "Ask these questions next, if it is safe and the person agrees",
      next_h: "Questions worth asking",
      if_yes: "If yes",
      if_no: "If no",
      interview: "Answered {answered} of {total}; declined {declined}; not asked {not_asked} (no effect on the score)",
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
      key_hint: "Ключ хранится только в памяти этой страницы и забывается при её перезагрузке или закрытии.",
      signin_btn: "Войти",
      key_required: "Введите API-ключ.",
      signed_in: "Вход выполнен.",
      signed_out: "Вы вышли.",
      form_h: "Опросник",
      form_intro:
        "Пройдите вопросы вместе с человеком. Вопрос без ответа считается незаданным и не влияет на оценку. Отказ от ответа никогда не считается признаком.",
      context_h: "О миграции",
      monitoring_h: "Необязательно: используется только для проверки справедливости",
      monitoring_note:
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
      submit: "Показать признаки и следующие шаги",
      scoring: "Идёт расчёт…",
      loading: "Загрузка…",
      need_assessment:
        "Укажите свою оценку (низкая, средняя или высокая обеспокоенность), прежде чем будет показан результат.",
      months_invalid: "Число месяцев за границей должно быть целым числом от 0 до 600.",
      result_h: "Результат",
      your_assessment: "Ваша оценка до результата",
      probability: "Оценённая вероятность",
      interval: "95% интервал: {lo}–{hi}",
      signs_level: "Признаки в ответах",
      tier_next: "Следующий шаг",
      tier_leaning: "Не определено. Ответы пока указывают на",
      recommendation: "Рекомендация",
      reasons_h: "Основные причины",
      reasons_note: "Чем длиннее полоса, тем сильнее влияние. «+» повышает оценку, «−» понижает её.",
      no_reasons: "Ни один ответ не повлиял на эту оценку.",
      answer: "ответ",
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
      err_withdrawn: "Оценка остановлена: администратор отозвал модель. Ничего не сохранено. Проводите беседу без инструмента и сообщите руководителю. Подробности:",
      err_500:
        "На сервере произошла ошибка; ничего не сохранено. Попробуйте ещё раз и сообщите, если ошибка повторяется.",
      err_questionnaire: "Не удалось загрузить опросник.",
      review_h: "Просмотр для проверяющего",
      refresh: "Обновить",
      report_h: "Последний отчёт о справедливости",
      no_report: "У используемой модели пока нет отчёта о справедливости. Он появится здесь после проверки справедливости этой модели и её перезагрузки.",
      report_model: "Модель",
      report_data: "Данные",
      report_rows: "строк",
      report_words: "Словами отчёта (по-английски):",
      report_all: "Все показатели отчёта",
      screenings_h: "Последние скрининги",
      no_screenings: "Скринингов пока нет.",
      col_time: "Время",
      col_assessment: "Оценка специалиста",
      col_refer: "Рекомендовано направить",
      col_decision: "Решение",
      col_reason: "Причина",
      yes: "Да",
      no: "Нет",
      declined: "Отказ от ответа",
      none: "—",
      band_low: "Низкий",
      band_medium: "Средний",
      band_high: "Высокий",
      child_h: "Только для взрослых",
      child_notice: "Tarozu не предназначен для детей. Если человеку нет 18 лет, не продолжайте: действуйте по процедуре защиты детей.",
      synthetic_notice: "Используемая модель обучена на синтетических (сгенерированных) данных и не проверена для работы в поле. Относитесь к её подсказкам как к демонстрации; решают ваше суждение и процедуры вашей программы.",
      consent_5: "Мне помогает компьютерная программа: по вашим ответам она подсказывает, стоит ли предложить вам направление. Она ничего не решает о вас; решают люди.",
      child_stop: "Человеку нет 18 лет. Tarozu не проверен для работы с детьми: остановитесь и действуйте по процедуре защиты детей. Ничего не отправлено и не записано.",
      consent_h: "Согласие: прочитайте это человеку до любого вопроса",
      consent_intro: "Назовите своё имя и организацию, в которой вы работаете, затем прочитайте:",
      consent_1: "Я задаю эти вопросы, чтобы понять, может ли вам понадобиться помощь или защита в связи с трудовой миграцией.",
      consent_2: "Ваши ответы записываются без вашего имени. Они используются только для того, чтобы решить, предложить ли вам направление к специалистам, и чтобы проверить, что этот инструмент справедлив ко всем.",
      consent_3: "Вы можете не отвечать на любой вопрос и можете остановиться в любой момент.",
      consent_4: "Помощь, которую вы можете получить, не зависит от того, ответите ли вы.",
      consent_check: "Человек выслушал это и согласен продолжить.",
      need_consent: "Сначала отметьте согласие человека: прочитайте ему текст выше и поставьте отметку.",
      who_h: "Спросите сначала",
      who_hint: "От того, кто проходит скрининг, зависит, какие вопросы задавать: вопросы, которые не относятся к этому человеку, скрыты.",
      hidden_n: "Вопросов, которые не относятся к этому человеку: {n}. Они скрыты и записываются как неприменимые.",
      age_hint: "Необязательно. Младше 18 лет: остановитесь и действуйте по процедуре защиты детей.",
      danger_h: "Сначала безопасность",
      danger_q: "Находитесь ли вы или кто-то из ваших близких в опасности сейчас?",
      danger_note: "Защита прежде всего: сейчас же действуйте по процедуре экстренной помощи и направления, независимо от оценки.",
      not_asked_label: "Не спрашивали:",
      not_asked_none: "—",
      na_not_applicable: "Не относится к этому человеку",
      na_not_reached: "Не дошли в этой беседе",
      na_not_safe_here: "Здесь спрашивать небезопасно",
      na_deferred: "Отложено до следующей беседы",
      clear: "Очистить",
      clear_answer: "Очистить ответ",
      urgent_h: "Срочно",
      urgent_text: "На вопрос, в опасности ли сейчас они сами или кто-то из близких, человек ответил «да».",
      status_refer: "Направить в службу",
      status_no_referral: "Пока без направления",
      status_ask_more: "Задать ещё вопросы",
      not_settled: "Пока не ясно: уровень признаков не показывается, пока не заданы другие вопросы.",
      range: "С учётом ещё не заданных вопросов оценка может оказаться где угодно от {lo} до {hi}.",
      next_h_ask: "Задайте эти вопросы дальше, если это безопасно и человек согласен",
      next_h: "Вопросы, которые стоит задать",
      if_yes: "Если да",
      if_no: "Если нет",
      interview: "Получено ответов: {answered} из {total}; отказ от ответа: {declined}; не спрашивали: {not_asked} (не влияет на оценку)",
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
      key_hint: "Калид танҳо дар хотираи ҳамин саҳифа нигоҳ дошта мешавад ва ҳангоми аз нав боркунӣ ё пӯшидани он фаромӯш мешавад.",
      signin_btn: "Ворид шудан",
      key_required: "Калиди API-ро ворид кунед.",
      signed_in: "Шумо ворид шудед.",
      signed_out: "Шумо баромадед.",
      form_h: "Саволнома",
      form_intro:
        "Саволҳоро якҷоя бо шахс гузаред. Саволи беҷавоб ҳамчун пурсиданашуда ҳисоб мешавад ва ба баҳо таъсир намерасонад. Радди ҷавоб ҳеҷ гоҳ далел ҳисоб намешавад.",
      context_h: "Дар бораи муҳоҷират",
      monitoring_h: "Ихтиёрӣ: танҳо барои санҷиши беғаразӣ истифода мешавад",
      monitoring_note:
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
      submit: "Нишон додани аломатҳо ва қадамҳои навбатӣ",
      scoring: "Ҳисоб карда истодаем…",
      loading: "Бор шуда истодааст…",
      need_assessment:
        "Пеш аз нишон додани натиҷа арзёбии худро (нигаронии кам, миёна ё зиёд) нишон диҳед.",
      months_invalid: "Шумораи моҳҳо дар хориҷа бояд адади бутун аз 0 то 600 бошад.",
      result_h: "Натиҷа",
      your_assessment: "Арзёбии Шумо пеш аз натиҷа",
      probability: "Эҳтимолияти тахминӣ",
      interval: "Фосилаи 95%: {lo}–{hi}",
      signs_level: "Аломатҳо дар ҷавобҳо",
      tier_next: "Қадами навбатӣ",
      tier_leaning: "Муайян нест. Ҷавобҳо то ҳол ишора мекунанд ба",
      recommendation: "Тавсия",
      reasons_h: "Сабабҳои асосӣ",
      reasons_note: "Ҳар қадар рах дарозтар бошад, таъсираш ҳамон қадар зиёд аст. «+» баҳоро баланд мекунад, «−» паст мекунад.",
      no_reasons: "Ягон ҷавоб ба ин баҳо таъсир нарасонд.",
      answer: "ҷавоб",
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
      err_withdrawn: "Арзёбӣ қатъ шуд: маъмур моделро бозхонд. Ҳеҷ чиз сабт нашуд. Суҳбатро бе абзор гузаронед ва ба роҳбаратон хабар диҳед. Тафсилот:",
      err_500:
        "Дар сервер хатогӣ рух дод; ҳеҷ чиз сабт нашуд. Боз кӯшиш кунед ва агар такрор шавад, хабар диҳед.",
      err_questionnaire: "Саволномаро бор кардан нашуд.",
      review_h: "Намоиш барои баррасикунанда",
      refresh: "Навсозӣ",
      report_h: "Охирин ҳисобот дар бораи беғаразӣ",
      no_report: "Модели истифодашаванда ҳоло ҳисоботи беғаразӣ надорад. Он пас аз санҷиши беғаразии ҳамин модел ва аз нав боркунии он дар ин ҷо пайдо мешавад.",
      report_model: "Модел",
      report_data: "Маълумот",
      report_rows: "сатр",
      report_words: "Бо суханони худи ҳисобот (ба забони англисӣ):",
      report_all: "Ҳамаи нишондиҳандаҳои ҳисобот",
      screenings_h: "Скринингҳои охирин",
      no_screenings: "Ҳоло ягон скрининг нест.",
      col_time: "Вақт",
      col_assessment: "Арзёбии корманд",
      col_refer: "Равонкунӣ тавсия шуд",
      col_decision: "Қарор",
      col_reason: "Сабаб",
      yes: "Ҳа",
      no: "Не",
      declined: "Аз ҷавоб даст кашид",
      none: "—",
      band_low: "Паст",
      band_medium: "Миёна",
      band_high: "Баланд",
      child_h: "Танҳо барои калонсолон",
      child_notice: "Tarozu барои кӯдакон нест. Агар шахс аз 18 сола хурдтар бошад, идома надиҳед: тибқи тартиби ҳифзи кӯдак амал кунед.",
      synthetic_notice: "Модели истифодашаванда дар маълумоти синтетикӣ (сохташуда) омӯзонида шудааст ва барои кор дар саҳро санҷида нашудааст. Ба пешниҳодҳои он ҳамчун намоиш муносибат кунед; доварии Шумо ва тартиботи барномаи Шумо ҳал мекунанд.",
      consent_5: "Ба ман барномаи компютерӣ кӯмак мекунад: аз рӯи ҷавобҳои Шумо он пешниҳод мекунад, ки оё ба Шумо роҳхат пешниҳод кардан лозим аст. Он дар бораи Шумо ҳеҷ чиз ҳал намекунад; одамон ҳал мекунанд.",
      child_stop: "Шахс аз 18 сола хурдтар аст. Tarozu барои кӯдакон санҷида нашудааст: дар ҳамин ҷо бас кунед ва тибқи тартиби ҳифзи кӯдак амал кунед. Ҳеҷ чиз фиристода ё сабт нашуд.",
      consent_h: "Розигӣ: инро пеш аз ҳар савол ба шахс хонед",
      consent_intro: "Номи худ ва ташкилотеро, ки дар он кор мекунед, гӯед, баъд хонед:",
      consent_1: "Ман ин саволҳоро медиҳам, то бифаҳмам, ки оё ба Шумо дар робита бо муҳоҷирати меҳнатӣ кӯмак ё ҳимоя лозим аст.",
      consent_2: "Ҷавобҳои Шумо бе номи Шумо сабт мешаванд. Онҳо танҳо барои он истифода мешаванд, ки қарор диҳем, оё Шуморо ба мутахассисон равон кунем, ва санҷем, ки ин абзор ба ҳама одилона аст.",
      consent_3: "Шумо метавонед ба ҳар саволе ҷавоб надиҳед ва ҳар вақт бас кунед.",
      consent_4: "Кӯмаке, ки Шумо гирифта метавонед, аз ҷавоб додан ё надодани Шумо вобаста нест.",
      consent_check: "Шахс инро шунид ва розӣ аст, ки идома диҳем.",
      need_consent: "Аввал розигии шахсро сабт кунед: матни болоро ба ӯ хонед ва аломат гузоред.",
      who_h: "Аввал пурсед",
      who_hint: "Аз он ки кӣ скрининг мешавад, вобаста аст, ки кадом саволҳо дода мешаванд: саволҳое, ки ба ин шахс тааллуқ надоранд, пинҳон карда мешаванд.",
      hidden_n: "{n} савол ба ин шахс тааллуқ надорад: онҳо пинҳон ва ҳамчун татбиқнашаванда сабт мешаванд.",
      age_hint: "Ихтиёрӣ. Агар аз 18 хурдтар бошад: бас кунед ва тибқи тартиби ҳифзи кӯдак амал кунед.",
      danger_h: "Аввал бехатарӣ",
      danger_q: "Оё Шумо ё касе аз наздикони Шумо ҳозир дар хатар ҳастед?",
      danger_note: "Ҳимоя аз ҳама муҳимтар аст: ҳозир тибқи тартиби ёрии фаврӣ ва равонкунӣ амал кунед, новобаста аз баҳо.",
      not_asked_label: "Пурсида нашуд:",
      not_asked_none: "—",
      na_not_applicable: "Ба ин шахс тааллуқ надорад",
      na_not_reached: "Дар ин суҳбат ба он нарасидем",
      na_not_safe_here: "Дар ин ҷо пурсидан бехатар нест",
      na_deferred: "Ба суҳбати дигар гузошта шуд",
      clear: "Тоза кардан",
      clear_answer: "Тоза кардани ҷавоб",
      urgent_h: "Фаврӣ",
      urgent_text: "Ба саволи он, ки оё худаш ё касе аз наздиконаш ҳозир дар хатар аст, шахс «ҳа» ҷавоб дод.",
      status_refer: "Ба хизматрасонӣ равона кардан",
      status_no_referral: "Ҳоло бе равонкунӣ",
      status_ask_more: "Саволҳои бештар диҳед",
      not_settled: "Ҳанӯз маълум нест: то пурсидани саволҳои бештар сатҳи аломатҳо нишон дода намешавад.",
      range: "Бо саволҳое, ки ҳанӯз пурсида нашудаанд, баҳо метавонад дар ҳар ҷое аз {lo} то {hi} бошад.",
      next_h_ask: "Агар бехатар бошад ва шахс розӣ бошад, ин саволҳоро минбаъд диҳед",
      next_h: "Саволҳое, ки пурсиданашон арзанда аст",
      if_yes: "Агар ҳа",
      if_no: "Агар не",
      interview: "Ҷавоб дода шуд: {answered} аз {total}; аз ҷавоб даст кашид: {declined}; пурсида нашуд: {not_asked} (ба баҳо таъсир надорад)",
    },
  };

  // ------------------------------------------------------------------ state
  // Nothing is selected at the start: an answer left out is sent as not asked.
  function emptyDraft() {
    return { answers: {}, reasons: {}, context: {}, monitoring: {}, danger: null, consent: false, assessment: null, case_ref: "" };
  }
  const state = {
    lang: "en",
    key: null,
    q: null, // normalised questionnaire of state.lang
    draft: emptyDraft(),
    result: null, // last ScreeningResult
    resultLang: null, // language the result texts came back in
    resultAssessment: null,
    resultFamily: false, // the result is of a family member: next questions in the family wording
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
  // A draft saved by an older page may hold answers this one no longer offers ("unknown").
  function cleanDraft(d) {
    const obj = (x) => (x && typeof x === "object" && !Array.isArray(x) ? x : {});
    d.answers = obj(d.answers);
    d.reasons = obj(d.reasons);
    d.context = obj(d.context);
    d.monitoring = obj(d.monitoring);
    Object.keys(d.answers).forEach((k) => GIVEN.indexOf(d.answers[k]) < 0 && delete d.answers[k]);
    Object.keys(d.reasons).forEach((k) => (NOT_ASKED_REASONS.indexOf(d.reasons[k]) < 0 || d.answers[k]) && delete d.reasons[k]);
    if (DANGER.indexOf(d.danger) < 0) d.danger = null;
    d.consent = d.consent === true;
    return d;
  }
  // The draft survives a reload (sessionStorage, this tab only), without the case reference:
  // the answers alone do not say whose they are.
  function saveDraft() {
    const kept = Object.assign({}, state.draft, { case_ref: "" });
    store("session", DRAFT_STORE, JSON.stringify(kept));
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
    if (id === "consent") return t("consent_check");
    if (id === "danger") return t("danger_q");
    const f = state.q && state.q.byId[id];
    return f ? questionText(f) : id;
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
      const id = String(e.field || "").split(".").pop();
      if (e.code === "consent_required" || id === "consent") return t("need_consent");
      if (e.code === "child_protection" || id === "age_band") return t("child_stop");
      return t("err_422", { field: fieldLabel(e.field) || "?" });
    }
    if (s === 503) {
      // The stop procedure: the server says when the model was withdrawn, by whom, why and how to resume.
      const e = (err.body && err.body.error) || {};
      if (e.code === "model_withdrawn") return t("err_withdrawn") + (e.message ? " " + e.message : "");
      return t("err_503");
    }
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
      // The family module's wording: put to a relative, about the person away.
      familyText: f.family_question ? String(f.family_question) : null,
      reason: pick(f, ["reason"]),
      appliesTo: Array.isArray(f.applies_to) ? f.applies_to.map(String) : null,
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
    const monitoring = (raw.monitoring || []).map((f) => normField(f, "monitoring"));
    const dimensions = (raw.dimensions || []).map((d) => {
      const id = pick(d, ["id", "dimension"]);
      const nested = d.indicators ? d.indicators.map((i) => (typeof i === "string" ? i : pick(i, ["id"]))) : null;
      return {
        id,
        label: String(pick(d, ["label", "text", "name"]) || id),
        indicators: nested || indicators.filter((i) => i.dimension === id).map((i) => i.id),
        appliesTo: Array.isArray(d.applies_to) ? d.applies_to.map(String) : [],
      };
    });
    const byId = {};
    indicators.concat(context, monitoring).forEach((f) => (byId[f.id] = f));
    // Who each question applies to: the indicator's own list, else its dimension's (empty: everyone).
    const dimById = Object.fromEntries(dimensions.map((d) => [d.id, d]));
    dimensions.forEach((d) => d.indicators.forEach((iid) => byId[iid] && !byId[iid].dimension && (byId[iid].dimension = d.id)));
    indicators.forEach((f) => {
      if (!f.appliesTo) f.appliesTo = (dimById[f.dimension] && dimById[f.dimension].appliesTo) || [];
    });
    // The interview's order: sections, each with its context fields, a notice and its questions.
    // A body without sections (an older API) is shown by dimension, as before.
    const ids = (list) => (list || []).map((i) => (typeof i === "string" ? i : pick(i, ["id"])));
    const sections = Array.isArray(raw.sections)
      ? raw.sections.map((sec) => ({
          id: pick(sec, ["id"]),
          label: String(pick(sec, ["label", "text", "name"]) || pick(sec, ["id"])),
          notice: sec.notice ? String(sec.notice) : null,
          context: ids(sec.context).filter((cid) => byId[cid] && byId[cid].kind === "context"),
          indicators: ids(sec.indicators).filter((iid) => byId[iid] && byId[iid].kind === "indicator"),
        }))
      : dimensions.map((d) => ({ id: d.id, label: d.label, notice: null, context: [], indicators: d.indicators }));
    // Every indicator is shown once: any the sections leave out (none, as declared) comes last.
    const placed = new Set(sections.flatMap((sec) => sec.indicators));
    const rest = indicators.filter((f) => !placed.has(f.id)).map((f) => f.id);
    if (rest.length) sections.push({ id: "other", label: "", notice: null, context: [], indicators: rest });
    const dimLabel = Object.fromEntries(dimensions.map((d) => [d.id, d.label]));
    const family = raw.family && typeof raw.family === "object" ? raw.family : {};
    const naRaw = raw.not_asked_reasons || (raw.texts && raw.texts.not_asked_reasons) || (raw.messages && raw.messages.not_asked_reasons);
    const notAskedLabel = Object.fromEntries(normOptions(naRaw).map((o) => [o.value, o.label]));
    const messages = raw.messages || {};
    return {
      raw,
      answers,
      answerLabel: Object.fromEntries(answers.map((a) => [a.value, a.label])),
      notAskedLabel,
      danger: {
        question: raw.danger && raw.danger.question ? String(raw.danger.question) : null,
        label: Object.fromEntries(normOptions(raw.danger && raw.danger.options).map((o) => [o.value, o.label])),
      },
      indicators,
      dimensions,
      dimLabel,
      sections,
      family: { title: family.title ? String(family.title) : "", intro: family.intro ? String(family.intro) : "" },
      context,
      monitoring,
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
    select.appendChild(el("option", { value: "", text: group === "monitoring" ? t("not_given") : state.q.unknownValue || t("not_given") }));
    f.options.forEach((o) => select.appendChild(el("option", { value: o.value, text: o.label })));
    select.value = current || "";
    wrap.appendChild(select);
    return wrap;
  }

  // Who is screened decides which questions are put; no status yet: every question shows.
  function applies(f) {
    const status = state.draft.context.migrant_status;
    return !status || !f.appliesTo || !f.appliesTo.length || f.appliesTo.indexOf(status) >= 0;
  }

  // Age bands such as "0-8" or "9-17" whose upper end is under 18.
  function isChildBand(value) {
    const m = /^(\d+)\s*[-–]\s*(\d+)$/.exec(String(value || ""));
    return !!m && Number(m[2]) < 18;
  }

  // A family member is asked the family module's wording, about their relative.
  function isFamily() {
    return state.draft.context.migrant_status === FAMILY;
  }
  function questionText(f, family) {
    const fam = family === undefined ? isFamily() : family;
    return fam && f.familyText ? f.familyText : f.text;
  }

  function notAskedText(reason) {
    return state.q.notAskedLabel[reason] || t("na_" + reason);
  }

  function answerLabelOf(value) {
    return state.q.answerLabel[value] || t(value);
  }

  function renderQuestion(f) {
    const q = state.q;
    const name = "a-" + f.id;
    const answer = state.draft.answers[f.id] || null;
    const offered = f.options.length ? f.options.map((o) => o.value) : GIVEN;
    const opts = el("div", { className: "options" });
    GIVEN.filter((v) => offered.indexOf(v) >= 0).forEach((v) => {
      const label = (f.options.find((o) => o.value === v) || {}).label || q.answerLabel[v] || v;
      opts.appendChild(radio(name, v, label, v === answer, { "data-group": "answers", "data-field": f.id }));
    });
    const selId = "r-" + f.id;
    const select = el("select", { id: selId, className: "na-select", "data-group": "reasons", "data-field": f.id });
    select.appendChild(el("option", { value: "", text: t("not_asked_none") }));
    NOT_ASKED_REASONS.forEach((r) => select.appendChild(el("option", { value: r, text: notAskedText(r) })));
    select.value = state.draft.reasons[f.id] || "";
    const clear = el("button", {
      type: "button",
      className: "clear",
      id: "c-" + f.id,
      "data-clear": f.id,
      "aria-label": t("clear_answer") + ": " + questionText(f),
      text: t("clear"),
    });
    clear.hidden = !answer;
    // Answered: a way back to "not asked"; not answered: why it was not asked (optional).
    const na = el("span", { className: "na", id: "na-" + f.id }, [
      el("label", { for: selId, className: "na-label", text: t("not_asked_label") }),
      select,
    ]);
    na.hidden = !!answer;
    const extra = el("div", { className: "q-extra" }, [na, clear]);
    // The dimension stays visible as a small tag; the grouping is the interview's sections.
    const dim = q.dimLabel[f.dimension];
    return el("fieldset", { className: "q", id: "q-" + f.id, "data-field": f.id, "data-dimension": f.dimension, "aria-describedby": dim ? "qd-" + f.id : null }, [
      el("legend", { id: "ql-" + f.id, text: questionText(f) }),
      dim ? el("span", { className: "q-dim", id: "qd-" + f.id, text: dim }) : null,
      el("div", { className: "q-row" }, [opts, extra]),
    ]);
  }

  // Until a model trained on field records (a file without generated ground truth) is served,
  // every screen says that the model is a demonstration, not validated for field use.
  function fieldValidated(model) {
    const data = (model && model.card && model.card.data) || {};
    return data.source === "file" && data.has_ground_truth === false;
  }

  function renderForm() {
    const q = state.q;
    $("consent").checked = !!state.draft.consent;
    $("synthetic-notice").hidden = fieldValidated(state.model);

    const who = $("who-fields");
    who.textContent = "";
    const status = q.context.find((f) => f.id === "migrant_status");
    const age = q.monitoring.find((f) => f.id === "age_band");
    if (status) who.appendChild(selectField(status, "context"));
    if (age) {
      const field = selectField(age, "monitoring");
      field.appendChild(el("p", { className: "hint", text: t("age_hint") }));
      who.appendChild(field);
    }

    const danger = $("danger-options");
    danger.textContent = "";
    $("danger-q").textContent = q.danger.question || t("danger_q");
    DANGER.forEach((v) => {
      const label = q.danger.label[v] || answerLabelOf(v);
      danger.appendChild(radio("danger", v, label, state.draft.danger === v, { "data-group": "danger" }));
    });
    const dclear = el("button", { type: "button", className: "clear", id: "c-danger", "data-clear": "danger", "aria-label": t("clear_answer") + ": " + (q.danger.question || t("danger_q")), text: t("clear") });
    dclear.hidden = !state.draft.danger;
    danger.appendChild(dclear);

    // The interview in its declared order: for a family member, the family module's title and
    // introduction first; then each section: its heading, its context fields, its notice (before
    // its first question) and its questions.
    const box = $("questions");
    box.textContent = "";
    box.appendChild(
      el("section", { id: "family-intro", className: "notice notice-family", "aria-labelledby": "family-h", hidden: true }, [
        el("h2", { id: "family-h", text: q.family.title }),
        el("p", { id: "family-text", text: q.family.intro }),
      ])
    );
    const placed = new Set(status ? [status.id] : []);
    q.sections.forEach((sec) => {
      const headId = "sec-" + sec.id + "-h";
      const node = el("section", { className: "group section", id: "sec-" + sec.id, "data-section": sec.id, "aria-labelledby": sec.label ? headId : null }, [
        sec.label ? el("h2", { id: headId, className: "section-h", text: sec.label }) : null,
      ]);
      sec.context.forEach((cid) => {
        if (placed.has(cid)) return;
        placed.add(cid);
        node.appendChild(selectField(q.byId[cid], "context"));
      });
      if (sec.notice) node.appendChild(el("p", { className: "notice notice-section", id: "notice-" + sec.id, role: "note", text: sec.notice }));
      sec.indicators.forEach((iid) => node.appendChild(renderQuestion(q.byId[iid])));
      box.appendChild(node);
    });

    // Context fields that no section holds (none, as declared) keep their own group.
    const ctx = $("context");
    ctx.textContent = "";
    ctx.appendChild(el("legend", { text: t("context_h") }));
    const rest = q.context.filter((f) => !placed.has(f.id));
    rest.forEach((f) => ctx.appendChild(selectField(f, "context")));
    ctx.hidden = rest.length === 0;

    const monitoring = $("monitoring");
    monitoring.textContent = "";
    monitoring.appendChild(el("legend", { text: t("monitoring_h") }));
    monitoring.appendChild(el("p", { className: "hint", text: t("monitoring_note") }));
    q.monitoring.forEach((f) => f !== age && monitoring.appendChild(selectField(f, "monitoring")));

    const ao = $("assess-options");
    ao.textContent = "";
    q.assessments.forEach((a) => {
      const label = UI[state.lang]["assess_" + a.value] || a.label;
      ao.appendChild(radio("assessment", a.value, label, state.draft.assessment === a.value, { "data-group": "assessment" }));
    });
    $("case_ref").value = state.draft.case_ref || "";
    applyVisibility();
    updateDanger();
    updateChildStop(false);
  }

  // Hides the questions that do not apply to who is being screened (and sections left empty),
  // and puts the family module's wording to a family member (the usual wording to anyone else).
  function applyVisibility() {
    const q = state.q;
    const family = isFamily();
    let hidden = 0;
    q.sections.forEach((sec) => {
      let shown = 0;
      sec.indicators.forEach((iid) => {
        const f = q.byId[iid];
        const node = $("q-" + iid);
        if (!f || !node) return;
        const ok = applies(f);
        node.hidden = !ok;
        if (ok) shown++;
        else hidden++;
        const text = questionText(f, family);
        const legend = $("ql-" + iid);
        if (legend && legend.textContent !== text) legend.textContent = text;
        const clear = $("c-" + iid);
        if (clear) clear.setAttribute("aria-label", t("clear_answer") + ": " + text);
      });
      const node = $("sec-" + sec.id);
      if (node) node.hidden = shown === 0 && !sec.context.some((cid) => $("f-" + cid));
    });
    const intro = $("family-intro");
    if (intro) intro.hidden = !family || !(q.family.title || q.family.intro);
    $("hidden-note").textContent = hidden ? t("hidden_n", { n: hidden }) : "";
  }

  function updateDanger() {
    $("danger-note").hidden = state.draft.danger !== "yes";
    $("danger-box").classList.toggle("is-yes", state.draft.danger === "yes");
  }

  function childSelected() {
    return isChildBand(state.draft.monitoring.age_band);
  }

  function updateChildStop(focus) {
    const child = childSelected();
    const box = $("child-stop");
    box.textContent = child ? t("child_stop") : "";
    box.hidden = !child;
    $("child-notice").classList.toggle("is-active", child);
    const sel = $("f-age_band");
    if (sel) {
      if (child) sel.setAttribute("aria-invalid", "true");
      else sel.removeAttribute("aria-invalid");
      if (child && focus) sel.focus();
    }
  }

  function setAnswer(id, value) {
    if (value) {
      state.draft.answers[id] = value;
      delete state.draft.reasons[id];
    } else delete state.draft.answers[id];
    document.querySelectorAll('input[name="a-' + CSS.escape(id) + '"]').forEach((r) => (r.checked = r.value === value));
    const sel = $("r-" + id);
    if (sel && value) sel.value = "";
    const clear = $("c-" + id);
    if (clear) clear.hidden = !value;
    const na = $("na-" + id);
    if (na) na.hidden = !!value;
  }

  function onFormInput(event) {
    const target = event.target;
    const group = target.getAttribute("data-group");
    const field = target.getAttribute("data-field");
    if (target.id === "case_ref") state.draft.case_ref = target.value;
    else if (group === "answers" && target.checked) setAnswer(field, target.value);
    else if (group === "reasons") {
      if (target.value) {
        setAnswer(field, null);
        state.draft.reasons[field] = target.value;
      } else delete state.draft.reasons[field];
    } else if (group === "danger" && target.checked) {
      state.draft.danger = target.value;
      $("c-danger").hidden = false;
      updateDanger();
    } else if (group === "consent") {
      state.draft.consent = !!target.checked;
      if (target.checked) {
        $("consent-box").classList.remove("is-missing");
        $("consent-error").hidden = true;
      }
    } else if (group === "assessment" && target.checked) {
      state.draft.assessment = target.value;
      $("assessment").classList.remove("is-missing");
      $("assess-error").hidden = true;
    } else if (group === "context" || group === "monitoring") {
      if (target.value === "") delete state.draft[group][target.name];
      else state.draft[group][target.name] = target.value;
      target.removeAttribute("aria-invalid");
      if (target.name === "migrant_status") applyVisibility();
      if (target.name === "age_band" && event.type === "change") {
        updateChildStop(false);
        if (!childSelected()) showAlert("");
      }
    }
    saveDraft();
  }

  function onFormClick(event) {
    const button = event.target.closest ? event.target.closest("[data-clear]") : null;
    if (!button) return;
    const id = button.getAttribute("data-clear");
    if (id === "danger") {
      state.draft.danger = null;
      document.querySelectorAll('input[name="danger"]').forEach((r) => (r.checked = false));
      button.hidden = true;
      updateDanger();
      const first = document.querySelector('input[name="danger"]');
      if (first) first.focus();
    } else {
      setAnswer(id, null);
      const sel = $("r-" + id);
      if (sel) sel.focus();
    }
    saveDraft();
  }

  function buildPayload() {
    const q = state.q;
    // An answer left out is not asked; a question that does not apply is not asked, and says why.
    const answers = {};
    const reasons = {};
    q.indicators.forEach((f) => {
      if (!applies(f)) {
        reasons[f.id] = "not_applicable";
        return;
      }
      const a = state.draft.answers[f.id];
      const r = state.draft.reasons[f.id];
      if (GIVEN.indexOf(a) >= 0) answers[f.id] = a;
      else if (NOT_ASKED_REASONS.indexOf(r) >= 0) reasons[f.id] = r;
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
    const payload = {
      consent: true,
      questionnaire_version: q.raw.version,
      danger: DANGER.indexOf(state.draft.danger) >= 0 ? state.draft.danger : "not_asked",
      answers,
      context,
      lang: state.lang,
      screener_assessment: state.draft.assessment,
    };
    if (Object.keys(reasons).length) payload.not_asked_reasons = reasons;
    const monitoring = {};
    q.monitoring.forEach((f) => {
      if (state.draft.monitoring[f.id]) monitoring[f.id] = state.draft.monitoring[f.id];
    });
    if (Object.keys(monitoring).length) payload.monitoring = monitoring;
    const ref = (state.draft.case_ref || "").trim();
    if (ref) payload.case_ref = ref;
    return { payload };
  }

  async function onSubmit(event) {
    event.preventDefault();
    clearMessages();
    // Children are never screened here: nothing is sent.
    if (childSelected()) {
      updateChildStop(true);
      showAlert(t("child_stop"));
      return;
    }
    if (!state.draft.consent) {
      $("consent-box").classList.add("is-missing");
      $("consent-error").hidden = false;
      showAlert(t("need_consent"));
      $("consent").focus();
      return;
    }
    // The number input reports "" for text that is not a number: read the raw validity too.
    const months = document.querySelector('#qform input[type="number"][data-group="context"]');
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
      state.resultFamily = built.payload.context.migrant_status === FAMILY;
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
        const node = $(id === "consent" ? "consent" : "f-" + id) || document.querySelector("#q-" + CSS.escape(id) + " input");
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

  function statusOf(r) {
    const rec = (r && r.recommendation) || {};
    if (STATUSES.indexOf(rec.status) >= 0) return rec.status;
    return rec.refer ? "refer" : "no_referral";
  }

  function renderOutcome(name, o, status) {
    const headingId = "out-" + name;
    const card = el("section", { className: "card outcome", "aria-labelledby": headingId, "data-outcome": name, "data-status": status });
    card.appendChild(el("h2", { id: headingId, text: outcomeLabel(name, o) }));
    if (status === "ask_more") {
      // Not settled: no band and no single number, only where the estimate could still go.
      card.appendChild(el("p", { className: "not-settled", text: t("not_settled") }));
      // The range is a probability: there only when this role is shown probabilities.
      const range = o.range && o.range.length === 2 ? o.range : o.interval;
      if (range && range.length === 2) {
        card.appendChild(el("p", { className: "range", "data-lo": String(range[0]), "data-hi": String(range[1]), text: t("range", { lo: pct(range[0]), hi: pct(range[1]) }) }));
      }
    } else {
      card.appendChild(el("p", {}, [el("span", { className: "sr-label", text: t("signs_level") + ": " }), bandBadge(o.band, bandText(o))]));
      // The probability of a type of exploitation is for specialists and reviewers: the API leaves
      // it out of a screener's result unless the service is set to show it.
      if (typeof o.probability === "number") {
        const interval = o.interval && o.interval.length === 2 ? t("interval", { lo: pct(o.interval[0]), hi: pct(o.interval[1]) }) : "";
        card.appendChild(
          el("p", { className: "prob" }, [t("probability") + ": ", el("strong", { className: "prob-value", text: pct(o.probability) })])
        );
        if (interval) card.appendChild(el("p", { className: "hint interval", text: interval }));
      }
    }

    // Only what the API lists as evidence; zero contributions say nothing. The compact result (the
    // default) lists the top reasons; a full one (?explain=full) every contribution.
    const contributions = (o.reasons || (o.explanation && o.explanation.contributions) || [])
      .filter((c) => Math.abs(c.contribution) > 1e-9)
      .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
      .slice(0, TOP_REASONS);
    card.appendChild(el("h3", { text: t("reasons_h") }));
    if (!contributions.length) {
      card.appendChild(el("p", { className: "no-reasons", text: t("no_reasons") }));
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

  function interviewText(r) {
    const iv = r.interview;
    if (!iv) return "";
    if (sameLang() && iv.text) return iv.text;
    const tpl = state.q.messages.interview || t("interview");
    let s = tpl;
    Object.keys(iv).forEach((k) => typeof iv[k] === "number" && (s = s.split("{" + k + "}").join(String(iv[k]))));
    return s;
  }

  function effectText(map) {
    const labels = state.q.messages.outcomes || {};
    return Object.keys(map || {})
      .map((name) => (labels[name] || name) + " " + pct(map[name]))
      .join(", ");
  }

  function renderNext(r, status) {
    const list = $("next-questions");
    list.textContent = "";
    const next = (r.next_questions || []).slice(0, TOP_NEXT);
    next.forEach((n) => {
      const f = state.q.byId[n.indicator];
      const family = state.resultFamily && f && f.familyText;
      const text = family ? f.familyText : sameLang() || !f ? n.question || (f && f.text) || n.indicator : f.text;
      const item = el("li", { className: "next-q", "data-field": n.indicator }, [el("span", { className: "next-text", text })]);
      const parts = [];
      if (n.if_yes && Object.keys(n.if_yes).length) parts.push(t("if_yes") + ": " + effectText(n.if_yes));
      if (n.if_no && Object.keys(n.if_no).length) parts.push(t("if_no") + ": " + effectText(n.if_no));
      if (parts.length) item.appendChild(el("span", { className: "next-effect", text: parts.join(" · ") }));
      if (typeof n.effect === "string" && n.effect) item.appendChild(el("span", { className: "next-effect", text: n.effect }));
      list.appendChild(item);
    });
    const box = $("next-box");
    box.hidden = next.length === 0;
    box.classList.toggle("is-main", status === "ask_more");
    $("next-h").textContent = t(status === "ask_more" ? "next_h_ask" : "next_h");
    // Asking more is the result itself: its questions come before the outcomes, otherwise after.
    if (status === "ask_more") $("outcomes").before(box);
    else $("caveat").after(box);
  }

  function tierLabel(tier, apiLabel) {
    if (sameLang() && apiLabel) return apiLabel;
    const tiers = state.q.messages.tiers || {};
    return tiers[tier] || apiLabel || tier;
  }

  // The referral tier: the next step when settled; otherwise where the answers point, marked not settled.
  function renderTier(rec) {
    let line = $("rec-tier");
    if (!line) {
      line = el("p", { id: "rec-tier", className: "tier-line" });
      $("rec-status").parentNode.after(line);
    }
    line.textContent = "";
    const settled = !!rec.tier;
    const tier = settled ? rec.tier : rec.leaning_tier;
    line.hidden = !tier;
    if (!tier) return;
    line.setAttribute("data-tier", settled ? rec.tier : "");
    line.setAttribute("data-leaning-tier", rec.leaning_tier || "");
    const label = settled ? tierLabel(rec.tier, rec.tier_label) : tierLabel(rec.leaning_tier, rec.leaning_tier_label);
    line.appendChild(el("span", { className: "tier-head", text: t(settled ? "tier_next" : "tier_leaning") + ": " }));
    line.appendChild(el("strong", { className: "tier tier-" + tier + (settled ? "" : " is-leaning"), text: label }));
  }

  function squash(text) {
    return String(text || "").split(/\s+/).filter(Boolean).join(" ");
  }

  function recommendationText(rec, urgent) {
    const msgs = state.q.messages;
    let text = "";
    if (rec.tier && msgs.tier_texts && msgs.tier_texts[rec.tier]) text = squash(msgs.tier_texts[rec.tier]);
    else if (!rec.tier && msgs.ask_more && msgs.leaning && msgs.tiers) {
      text = squash(msgs.ask_more) + " " + squash(msgs.leaning.replace("{tier}", msgs.tiers[rec.leaning_tier] || rec.leaning_tier));
    }
    if (!text) return "";
    return (urgent && msgs.urgent ? squash(msgs.urgent) + " " : "") + text;
  }

  function renderResult() {
    const r = state.result;
    if (!r) return;
    const a = state.resultAssessment;
    const rec = r.recommendation || {};
    const status = statusOf(r);
    const msgs = state.q.messages;
    $("result").setAttribute("data-status", status);
    $("result-assessment").textContent = a ? t("your_assessment") + ": " + (UI[state.lang]["assess_" + a] || a) : "";

    const urgent = !!rec.urgent;
    $("urgent").hidden = !urgent;
    $("urgent-text").textContent = urgent ? t("urgent_text") : "";

    const badge = $("rec-status");
    badge.className = "status status-" + status + (urgent ? " is-urgent" : "");
    badge.setAttribute("data-status", status);
    badge.textContent =
      sameLang() && rec.status_label ? rec.status_label : (msgs.statuses && msgs.statuses[status]) || t("status_" + status);
    renderTier(rec);
    // In another language than the result's, the text is rebuilt as the API builds it.
    const rebuilt = recommendationText(rec, urgent);
    $("rec-text").textContent = sameLang() || !rebuilt ? rec.text || rebuilt : rebuilt;
    $("interview").textContent = interviewText(r);

    const box = $("outcomes");
    box.textContent = "";
    Object.keys(r.outcomes || {}).forEach((name) => box.appendChild(renderOutcome(name, r.outcomes[name], status)));
    $("caveat").textContent = sameLang() || !msgs.caveat ? r.caveat : msgs.caveat;
    renderNext(r, status);
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

  // The decision that follows each status (as the server's audit log decides it).
  const DECISION_OF_STATUS = { refer: "referred", no_referral: "not_referred", ask_more: "needs_more_information" };

  function differsFromRecommendation(decision) {
    const rec = (state.result && state.result.recommendation) || {};
    const expected = DECISION_OF_STATUS[rec.status] || (rec.refer ? "referred" : "not_referred");
    return decision !== expected;
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

  // The fairness report: what was audited, then its answer (does the model miss victims in some group
  // more?) in the report's own words, the disparities it found, and every figure below, folded.
  function reportView(data) {
    const box = el("div", { className: "report" });
    const answer = data.answer;
    if (answer && answer.headline) {
      const model = data.model || {};
      const about = [];
      const named = [model.name, model.version].filter(Boolean).join(" ");
      if (named) about.push(`${t("report_model")}: ${named}`);
      if (data.data) about.push(`${t("report_data")}: ${data.data}`);
      if (data.rows !== undefined) about.push(`${data.rows} ${t("report_rows")}`);
      if (data.generated_at) about.push(data.generated_at);
      box.appendChild(el("p", { className: "report-about", text: about.join(" · ") }));
      box.appendChild(el("p", { className: "hint", text: t("report_words") }));
      box.appendChild(el("p", { className: "report-headline", lang: "en", text: answer.headline }));
      if (answer.could_see) box.appendChild(el("p", { lang: "en", text: answer.could_see }));
      const found = [...(answer.misses || []), ...(answer.false_alarms || [])];
      if (found.length) {
        const ratio = (v) => (typeof v === "number" ? String(Math.round(v * 100) / 100) : "?");
        const rate = { fnr: "miss rate", fpr: "false-alarm rate" };
        box.appendChild(el("ul", { className: "report-found", lang: "en" }, found.map((c) => el("li", {
          text: `${c.attribute} ${c.group} against ${c.reference}, ${c.outcome} ${rate[c.metric] || c.metric}: ` +
            `${ratio(c.ratio)} times the reference's (${ratio(c.ratio_lower)} to ${ratio(c.ratio_upper)})`,
        }))));
      }
    }
    box.appendChild(el("details", { open: !(answer && answer.headline) }, [el("summary", { text: t("report_all") }), kvList(data, 0)]));
    return box;
  }

  async function loadReview() {
    const report = $("report");
    const list = $("list");
    report.textContent = t("loading");
    list.textContent = t("loading");
    const reportCard = report.closest("section");
    reportCard.hidden = false;
    try {
      const data = await api(API.report);
      report.textContent = "";
      report.appendChild(reportView(data || {}));
    } catch (err) {
      report.textContent = "";
      // The fairness report is for reviewers and data scientists: other roles do not see its card.
      if (err.status === 403) reportCard.hidden = true;
      else report.appendChild(el("p", { className: err.status === 404 ? "no-report" : "msg msg-error", text: err.status === 404 ? t("no_report") : errorText(err) }));
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
    if (!keepDraft) {
      state.draft = emptyDraft();
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
      state.model = await api(API.whoami);
      state.q = await loadQuestionnaire(state.lang);
    } catch (err) {
      state.key = null;
      showAlert(errorText(err));
      return;
    }
    $("apikey").value = "";
    renderForm();
    showView(state.result ? "result" : "screen");
    showStatus(t("signed_in"));
    $(state.result ? "result-h" : "form-h").focus();
  }

  function newScreening() {
    state.draft = emptyDraft();
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
      if (draft && typeof draft === "object") state.draft = cleanDraft(Object.assign(emptyDraft(), draft, { case_ref: "" }));
    } catch (e) {
      /* a broken draft is ignored */
    }
    store("session", OLD_KEY_STORE, null);
    state.key = null;

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
    $("qform").addEventListener("click", onFormClick);
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
