/* The notification bell (DESIGN §13): a WebSocket to /ws/notifications/ keeps the unread
 * count live; the dropdown lists the latest from the API. When the socket drops it
 * reconnects with back-off (1 s doubling to 30 s, with jitter) and catches up: the server
 * sends the unread count on every connect, and an open dropdown is fetched again.
 * A socket closed with 4401 (signed out) is not reopened. No inline code (CSP). */
(function () {
  "use strict";

  var UNAUTHENTICATED = 4401;
  var LATEST = 8;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function Bell(root) {
    this.root = root;
    this.count = root.querySelector("[data-notifications-count]");
    this.toggle = root.querySelector("[data-notifications-toggle]");
    this.dropdown = root.querySelector("[data-notifications-dropdown]");
    this.items = root.querySelector("[data-notifications-items]");
    this.readAll = root.querySelector("[data-notifications-read-all]");
    this.delay = 1000;
    this.socket = null;
    this.bind();
    this.connect();
  }

  Bell.prototype.setCount = function (count) {
    this.unread = Math.max(0, count);
    this.count.textContent = this.unread > 99 ? "99+" : String(this.unread);
    this.count.hidden = this.unread === 0;
    this.root.setAttribute("data-unread", String(this.unread));
  };

  Bell.prototype.connect = function () {
    var self = this;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + this.root.getAttribute("data-ws-path"));
    this.socket = socket;
    socket.addEventListener("open", function () {
      self.delay = 1000;
      self.root.setAttribute("data-connected", "true");
      if (!self.dropdown.hidden) { self.load(); }  // catch up what arrived while away
    });
    socket.addEventListener("message", function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (error) { return; }
      if (message.type === "unread_count") {
        self.setCount(message.count);
      } else if (message.type === "notification") {
        self.setCount((self.unread || 0) + (message.notification.read_at ? 0 : 1));
        self.prepend(message.notification);
      }
    });
    socket.addEventListener("close", function (event) {
      self.root.setAttribute("data-connected", "false");
      if (event.code === UNAUTHENTICATED) { return; }
      var wait = self.delay + Math.random() * self.delay * 0.3;
      self.delay = Math.min(self.delay * 2, 30000);
      window.setTimeout(function () { self.connect(); }, wait);
    });
  };

  Bell.prototype.item = function (notification) {
    var li = document.createElement("li");
    li.className = notification.read_at ? "notif-item" : "notif-item unread";
    var link = document.createElement("a");
    link.href = this.root.getAttribute("data-list-url") + notification.id + "/";
    var title = document.createElement("strong");
    title.textContent = notification.title;
    var body = document.createElement("span");
    body.className = "notif-body";
    body.textContent = notification.body;
    var when = document.createElement("time");
    when.dateTime = notification.created_at;
    when.textContent = new Date(notification.created_at).toLocaleString();
    link.appendChild(title);
    link.appendChild(body);
    link.appendChild(when);
    li.appendChild(link);
    return li;
  };

  Bell.prototype.prepend = function (notification) {
    if (!this.loaded) { return; }
    var empty = this.items.querySelector(".notif-empty");
    if (empty) { empty.remove(); }
    this.items.insertBefore(this.item(notification), this.items.firstChild);
    while (this.items.children.length > LATEST) { this.items.removeChild(this.items.lastChild); }
  };

  Bell.prototype.render = function (results) {
    var self = this;
    this.items.textContent = "";
    if (!results.length) {
      var li = document.createElement("li");
      li.className = "muted notif-empty";
      li.textContent = "No notifications yet.";
      this.items.appendChild(li);
      return;
    }
    results.forEach(function (notification) { self.items.appendChild(self.item(notification)); });
  };

  Bell.prototype.load = function () {
    var self = this;
    return fetch(this.root.getAttribute("data-api") + "?page_size=" + LATEST, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response.status); })
      .then(function (page) { self.loaded = true; self.render(page.results); })
      .catch(function () { self.items.textContent = "Could not load the notifications."; });
  };

  Bell.prototype.open = function (open) {
    this.dropdown.hidden = !open;
    this.toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) { this.load(); }
  };

  Bell.prototype.bind = function () {
    var self = this;
    this.toggle.addEventListener("click", function (event) {
      event.preventDefault();
      self.open(self.dropdown.hidden);
    });
    document.addEventListener("click", function (event) {
      if (!self.dropdown.hidden && !self.root.contains(event.target)) { self.open(false); }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !self.dropdown.hidden) { self.open(false); self.toggle.focus(); }
    });
    this.readAll.addEventListener("click", function () {
      fetch(self.readAll.getAttribute("data-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      }).then(function (response) {
        if (response.ok) { self.setCount(0); self.load(); }
      });
    });
  };

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-notifications]");
    if (root && "WebSocket" in window) { window.deelrxNotifications = new Bell(root); }
  });
})();
