/* 总部管理台: a static single-page app on the omnistore API (same origin, bearer token of a staff login). */
"use strict";

const state = { token: sessionStorage.getItem("token"), staff: JSON.parse(sessionStorage.getItem("staff") || "null"), stores: [] };
const $ = (sel, root) => (root || document).querySelector(sel);
const yuan = (fen) => "¥" + (fen / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const esc = (s) => String(s == null ? "" : s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

function businessDay(offsetDays) {
  const d = new Date(Date.now() + (offsetDays || 0) * 86400000);
  return new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai" }).format(d);
}

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (method === "POST") headers["Idempotency-Key"] = crypto.randomUUID ? crypto.randomUUID() : String(Math.random());
  const resp = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  if (resp.status === 401) { logout(); throw new Error("请重新登录"); }
  const data = (resp.headers.get("Content-Type") || "").startsWith("application/json") ? await resp.json() : await resp.text();
  if (!resp.ok) throw new Error((data && data.message) || resp.status);
  return data;
}

async function download(path, name) {
  const resp = await fetch(path, { headers: { Authorization: "Bearer " + state.token } });
  const url = URL.createObjectURL(await resp.blob());
  const a = document.createElement("a");
  a.href = url; a.download = name; a.click();
  URL.revokeObjectURL(url);
}

function storeName(id) {
  const s = state.stores.find((x) => x.store_id === id);
  return s ? s.name : id;
}

async function loadStores() {
  const r = await api("GET", "/admin/stores?limit=200");
  state.stores = r.items;
}

// ------------------------------------------------------------------------------------------ login
function showLogin() {
  $("#shell").classList.add("hidden");
  $("#login").classList.remove("hidden");
}

function logout() {
  sessionStorage.clear();
  state.token = null;
  showLogin();
}

$("#login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("#login-error").textContent = "";
  try {
    const r = await api("POST", "/auth/staff/login", { username: $("#username").value, password: $("#password").value });
    state.token = r.token; state.staff = r.staff;
    sessionStorage.setItem("token", r.token);
    sessionStorage.setItem("staff", JSON.stringify(r.staff));
    start();
  } catch (e) {
    $("#login-error").textContent = "登录失败：" + e.message;
  }
});
$("#logout").addEventListener("click", logout);

// ------------------------------------------------------------------------------------------ pages
const pages = {};

pages.overview = async (root) => {
  const ranges = { today: [businessDay(0), businessDay(0)], d7: [businessDay(-6), businessDay(0)], d30: [businessDay(-29), businessDay(0)] };
  const got = {};
  for (const [k, [f, t]] of Object.entries(ranges)) {
    got[k] = await api("GET", `/admin/reports/sales?from=${f}&to=${t}&group_by=store`);
  }
  const daily = await api("GET", `/admin/reports/sales?from=${ranges.d30[0]}&to=${ranges.d30[1]}&group_by=day`);
  const stock = await api("GET", "/admin/reports/stock");
  const row = (k, id) => got[k].items.find((r) => r.store_id === id) || { sales_fen: 0, margin_fen: 0, orders: 0 };
  const cell = (k, id, fig) => `<td class="num" data-store="${id}" data-range="${k}" data-figure="${fig}" data-fen="${row(k, id)[fig]}">${yuan(row(k, id)[fig])}</td>`;
  const cards = state.stores.map((s) => {
    const sv = stock.items.find((x) => x.store_id === s.store_id);
    return `<div class="card store-card" data-store="${s.store_id}"><h3>${esc(s.name)}</h3><table>
      <tr><td></td><td>销售额</td><td>毛利</td></tr>
      <tr><td>今日</td>${cell("today", s.store_id, "sales_fen")}${cell("today", s.store_id, "margin_fen")}</tr>
      <tr><td>近7天</td>${cell("d7", s.store_id, "sales_fen")}${cell("d7", s.store_id, "margin_fen")}</tr>
      <tr><td>近30天</td>${cell("d30", s.store_id, "sales_fen")}${cell("d30", s.store_id, "margin_fen")}</tr>
      <tr><td>库存金额</td><td class="num" data-store="${s.store_id}" data-figure="stock_value_fen" data-fen="${sv ? sv.stock_value_fen : 0}">${yuan(sv ? sv.stock_value_fen : 0)}</td></tr>
    </table></div>`;
  }).join("");
  const t = got.today.total;
  root.innerHTML = `<h2>概览</h2>
    <p>今日全部门店：订单 <b id="today-orders">${t.orders}</b>，销售额 <b id="today-sales" data-fen="${t.sales_fen}">${yuan(t.sales_fen)}</b>，
    毛利 <b id="today-margin" data-fen="${t.margin_fen}">${yuan(t.margin_fen)}</b></p>
    <div class="cards">${cards}</div><div id="sales-chart" class="chart"></div>`;
  const days = [];
  for (let i = -29; i <= 0; i++) days.push(businessDay(i));
  const by = Object.fromEntries(daily.items.map((r) => [r.day, r]));
  if (window.echarts) {
    const chart = echarts.init($("#sales-chart"));
    chart.setOption({
      animation: false,
      title: { text: "近30天销售额与毛利（元）" },
      tooltip: { trigger: "axis" },
      legend: { data: ["销售额", "毛利"], right: 10 },
      xAxis: { type: "category", data: days.map((d) => d.slice(5)) },
      yAxis: { type: "value" },
      series: [
        { name: "销售额", type: "line", data: days.map((d) => ((by[d] || {}).sales_fen || 0) / 100) },
        { name: "毛利", type: "bar", data: days.map((d) => ((by[d] || {}).margin_fen || 0) / 100) },
      ],
    });
  }
};

function rangeBar(extra) {
  return `<div class="toolbar">从 <input type="date" id="from" value="${businessDay(-29)}"> 到 <input type="date" id="to" value="${businessDay(0)}">
    <select id="store"><option value="">全部门店</option>${state.stores.map((s) => `<option value="${s.store_id}">${esc(s.name)}</option>`).join("")}</select>
    ${extra || ""}<button id="go" type="button">查询</button></div>`;
}

function rangeQuery() {
  const store = $("#store").value;
  return `from=${$("#from").value}&to=${$("#to").value}` + (store ? `&store_id=${store}` : "");
}

pages.products = async (root) => {
  root.innerHTML = "<h2>商品排行</h2>" + rangeBar('<select id="order"><option value="best">畅销</option><option value="slow">滞销</option></select><button id="csv" type="button">导出 CSV</button>') + '<div id="result"></div>';
  const load = async () => {
    const r = await api("GET", `/admin/reports/products?${rangeQuery()}&order=${$("#order").value}&limit=50`);
    $("#result").innerHTML = `<table class="grid" id="products-table"><tr><th>#</th><th>SKU</th><th>商品</th><th class="num">件数</th><th class="num">销售额</th><th class="num">退款</th><th class="num">毛利</th></tr>` +
      r.items.map((p, i) => `<tr data-sku="${esc(p.sku)}"><td>${i + 1}</td><td>${esc(p.sku)}</td><td>${esc(p.name)}</td><td class="num">${p.units}</td><td class="num">${yuan(p.sales_fen)}</td><td class="num">${yuan(p.refund_fen)}</td><td class="num">${yuan(p.margin_fen)}</td></tr>`).join("") + "</table>";
  };
  $("#go").onclick = load;
  $("#csv").onclick = () => download(`/admin/reports/products?${rangeQuery()}&order=${$("#order").value}&limit=200&format=csv`, "products.csv");
  await load();
};

pages.stock = async (root) => {
  const [alerts, stock] = [await api("GET", "/admin/alerts/low-stock?limit=100"), await api("GET", "/admin/reports/stock")];
  root.innerHTML = `<h2>库存</h2><div class="cards">${stock.items.map((s) => `<div class="card"><h3>${esc(storeName(s.store_id))}</h3>库存金额 ${yuan(s.stock_value_fen)}（${s.skus} 个SKU）</div>`).join("")}</div>
    <h3>低库存预警</h3><p id="stock-msg" class="notice"></p><table class="grid" id="low-stock"><tr><th>门店</th><th>SKU</th><th class="num">现有</th><th class="num">预警线</th><th>调拨建议</th></tr>` +
    alerts.items.map((a, i) => `<tr><td>${esc(storeName(a.store_id))}</td><td>${esc(a.sku)}</td><td class="num">${a.qty}</td><td class="num">${a.threshold}</td><td>${a.suggested_source
      ? `从 ${esc(storeName(a.suggested_source.store_id))} 调 ${a.suggested_source.qty} 件 <button type="button" data-i="${i}" class="transfer">一键调拨</button>` : "无可调门店"}</td></tr>`).join("") + "</table>";
  root.querySelectorAll(".transfer").forEach((b) => (b.onclick = async () => {
    const a = alerts.items[b.dataset.i];
    try {
      const t = await api("POST", "/admin/transfers", { from_store_id: a.suggested_source.store_id, to_store_id: a.store_id, lines: [{ sku: a.sku, qty: a.suggested_source.qty }], note: "低库存调拨建议" });
      $("#stock-msg").textContent = `已创建调拨单 ${t.transfer_id}`;
      b.disabled = true;
    } catch (e) { $("#stock-msg").textContent = "调拨失败：" + e.message; }
  }));
};

pages.pairs = async (root) => {
  root.innerHTML = "<h2>组合购买</h2>" + rangeBar('最少订单 <input type="number" id="support" value="1" min="1" style="width:60px">').replace(/<select id="store">[\s\S]*?<\/select>/, "") + '<p id="pair-msg" class="notice"></p><div id="result"></div>';
  const load = async () => {
    const r = await api("GET", `/admin/reports/co-purchase?from=${$("#from").value}&to=${$("#to").value}&min_support=${$("#support").value}`);
    $("#result").innerHTML = `<p>区间订单数 ${r.orders}</p><table class="grid" id="pairs-table"><tr><th>商品A</th><th>商品B</th><th class="num">同时购买订单</th><th class="num">提升度</th><th></th></tr>` +
      r.items.map((p, i) => `<tr><td>${esc(p.sku_a)}</td><td>${esc(p.sku_b)}</td><td class="num">${p.orders}</td><td class="num">${(p.lift_bp / 10000).toFixed(2)}</td>
        <td><button type="button" class="combo" data-i="${i}">生成组合赠品活动</button></td></tr>`).join("") + "</table>";
    $("#result").querySelectorAll(".combo").forEach((b) => (b.onclick = async () => {
      const p = r.items[b.dataset.i];
      const start = new Date(), end = new Date(Date.now() + 30 * 86400000);
      try {
        const promo = await api("POST", "/admin/promotions", {
          title: `组合赠品：买${p.sku_a}送${p.sku_b}`,
          rule: { kind: "combo_gift", requires: [{ sku: p.sku_a }], gift_sku: p.sku_b, gift_qty: 1 },
          schedule: { starts_at: start.toISOString(), ends_at: end.toISOString() },
          status: "paused",
        });
        $("#pair-msg").textContent = `已生成草稿活动（暂停中）：${promo.title}（${promo.promo_id}）`;
        $("#pair-msg").dataset.promoId = promo.promo_id;
      } catch (e) { $("#pair-msg").textContent = "生成失败：" + e.message; }
    }));
  };
  $("#go").onclick = load;
  await load();
};

pages.orders = async (root) => {
  root.innerHTML = "<h2>订单</h2>" + rangeBar('<select id="status"><option value="">全部状态</option>' +
    ["PENDING_PAYMENT", "PAID", "ACCEPTED", "READY", "DELIVERING", "COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED", "CANCELLED"].map((s) => `<option>${s}</option>`).join("") +
    '</select><input id="q" placeholder="订单号或手机尾号">') + '<div id="result"></div>';
  const load = async () => {
    const q = $("#q").value.trim(), status = $("#status").value;
    const r = await api("GET", `/admin/orders?${rangeQuery()}&limit=50` + (status ? `&status=${status}` : "") + (q ? `&q=${encodeURIComponent(q)}` : ""));
    $("#result").innerHTML = `<table class="grid" id="orders-table"><tr><th>订单号</th><th>门店</th><th>渠道</th><th>状态</th><th class="num">实付</th><th class="num">已退</th><th>下单时间</th></tr>` +
      r.items.map((o) => `<tr><td>${esc(o.order_id)}</td><td>${esc(storeName(o.store_id))}</td><td>${o.channel === "pos" ? "门店" : "小程序"}</td><td>${esc(o.status)}</td><td class="num">${yuan(o.payable_fen)}</td><td class="num">${yuan(o.refunded_fen)}</td><td>${esc(o.created_at)}</td></tr>`).join("") + "</table>";
  };
  $("#go").onclick = load;
  await load();
};

pages.printers = async (root) => {
  const r = await api("GET", "/admin/printers?limit=100");
  root.innerHTML = `<h2>打印机</h2><table class="grid" id="printers-table"><tr><th>门店</th><th>名称</th><th>MAC</th><th>在线</th><th>状态</th><th>最后轮询</th></tr>` +
    r.items.map((p) => `<tr><td>${esc(storeName(p.store_id))}</td><td>${esc(p.name)}</td><td>${esc(p.mac)}</td><td>${p.online ? "在线" : "离线"}</td><td>${esc(p.status)}</td><td>${esc(p.last_poll_at || "")}</td></tr>`).join("") + "</table>";
};

pages.staff = async (root) => {
  const r = await api("GET", "/admin/staff?limit=200");
  const roles = { hq_admin: "总部", store_manager: "店长", clerk: "店员" };
  const hq = state.staff && state.staff.role === "hq_admin";
  const stores = (hq ? state.stores : state.stores.filter((s) => s.store_id === state.staff.store_id))
    .map((s) => `<option value="${esc(s.store_id)}">${esc(s.name)}</option>`).join("");
  const roleOptions = (hq ? ["clerk", "store_manager", "hq_admin"] : ["clerk"]).map((x) => `<option value="${x}">${roles[x]}</option>`).join("");
  root.innerHTML = `<h2>员工</h2><p id="staff-msg" class="notice"></p>
    <form id="staff-create" class="toolbar"><strong>新建员工</strong>
      <input id="new-username" placeholder="用户名（小写字母、数字、.-_）" required pattern="[a-z0-9][a-z0-9._\-]{2,39}">
      <input id="new-name" placeholder="姓名" required maxlength="100">
      <select id="new-role">${roleOptions}</select>
      <select id="new-store">${stores}</select>
      <input id="new-password" type="password" placeholder="初始密码（至少8位）" required minlength="8">
      <button type="submit">创建</button></form>
    <form id="staff-password" class="toolbar hidden"><strong>重置密码：<span id="reset-username"></span></strong>
      <input id="reset-password" type="password" placeholder="新密码（至少8位）" required minlength="8">
      <button type="submit">确认重置</button><button type="button" id="reset-cancel">取消</button></form>
    <table class="grid" id="staff-table"><tr><th>用户名</th><th>姓名</th><th>角色</th><th>门店</th><th>状态</th><th></th></tr>` +
    r.items.map((s) => `<tr data-username="${esc(s.username)}"><td>${esc(s.username)}</td><td>${esc(s.name)}</td><td>${roles[s.role] || s.role}</td><td>${s.store_id ? esc(storeName(s.store_id)) : "总部"}</td><td>${s.status === "active" ? "启用" : "停用"}</td>
      <td><button type="button" class="toggle" data-u="${esc(s.username)}" data-s="${s.status}">${s.status === "active" ? "停用" : "启用"}</button>
      <button type="button" class="reset" data-u="${esc(s.username)}">重置密码</button></td></tr>`).join("") + "</table>";
  const say = (msg, error) => { $("#staff-msg").textContent = msg; $("#staff-msg").className = error ? "error" : "notice"; };
  const reload = async (msg) => { await pages.staff(root); say(msg); };
  $("#new-role").onchange = () => { $("#new-store").disabled = $("#new-role").value === "hq_admin"; };
  $("#staff-create").onsubmit = async (ev) => {
    ev.preventDefault();
    const role = $("#new-role").value;
    const body = { username: $("#new-username").value.trim(), name: $("#new-name").value.trim(), role, password: $("#new-password").value };
    if (role !== "hq_admin") body.store_id = $("#new-store").value;
    try {
      const s = await api("POST", "/admin/staff", body);
      await reload(`已创建员工 ${s.username}（${roles[s.role]}）`);
    } catch (e) { say("创建失败：" + e.message, true); }
  };
  root.querySelectorAll(".toggle").forEach((b) => (b.onclick = async () => {
    const enable = b.dataset.s !== "active";
    try {
      await api("POST", `/admin/staff/${encodeURIComponent(b.dataset.u)}/${enable ? "enable" : "disable"}`);
      await reload(`已${enable ? "启用" : "停用"} ${b.dataset.u}`);
    } catch (e) { say("操作失败：" + e.message, true); }
  }));
  root.querySelectorAll(".reset").forEach((b) => (b.onclick = () => {
    $("#reset-username").textContent = b.dataset.u;
    $("#staff-password").classList.remove("hidden");
    $("#reset-password").value = "";
    $("#reset-password").focus();
  }));
  $("#reset-cancel").onclick = () => $("#staff-password").classList.add("hidden");
  $("#staff-password").onsubmit = async (ev) => {
    ev.preventDefault();
    const u = $("#reset-username").textContent;
    try {
      await api("POST", `/admin/staff/${encodeURIComponent(u)}/password`, { password: $("#reset-password").value });
      await reload(`已重置 ${u} 的密码（其登录已全部失效）`);
    } catch (e) { say("重置失败：" + e.message, true); }
  };
};

async function route() {
  const name = (location.hash.replace(/^#\//, "") || "overview").split("?")[0];
  const page = pages[name] ? name : "overview";
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
  const root = $("#page");
  root.innerHTML = "<p>加载中…</p>";
  root.dataset.ready = "";
  try {
    await pages[page](root);
  } catch (e) {
    root.innerHTML = `<p class="error">加载失败：${esc(e.message)}</p>`;
  }
  root.dataset.ready = page;
}

async function start() {
  $("#login").classList.add("hidden");
  $("#shell").classList.remove("hidden");
  $("#who").textContent = state.staff ? `${state.staff.name}（${state.staff.username}）` : "";
  await loadStores();
  await route();
}

window.addEventListener("hashchange", () => state.token && route());
if (state.token) start(); else showLogin();
