var O,
  p,
  ae,
  Fe,
  S,
  le,
  fe,
  pe,
  Q,
  L,
  E,
  he,
  K,
  J,
  G,
  Le,
  I = {},
  q = [],
  Me = /acit|ex(?:s|g|n|p|$)|rph|grid|ows|mnc|ntw|ine[ch]|zoo|^ord|itera/i,
  V = Array.isArray;
function C(_, e) {
  for (var t in e) _[t] = e[t];
  return _;
}
function X(_) {
  _ && _.parentNode && _.parentNode.removeChild(_);
}
function Z(_, e, t) {
  var o, i, n, l = {};
  for (n in e) n == "key" ? o = e[n] : n == "ref" ? i = e[n] : l[n] = e[n];
  if (
    arguments.length > 2 && (l.children = arguments.length > 3 ? O.call(arguments, 2) : t),
      typeof _ == "function" && _.defaultProps != null
  ) { for (n in _.defaultProps) l[n] === void 0 && (l[n] = _.defaultProps[n]); }
  return M(_, l, o, i, null);
}
function M(_, e, t, o, i) {
  var n = {
    type: _,
    props: e,
    key: t,
    ref: o,
    __k: null,
    __: null,
    __b: 0,
    __e: null,
    __c: null,
    constructor: void 0,
    __v: i ?? ++ae,
    __i: -1,
    __u: 0,
  };
  return i == null && p.vnode != null && p.vnode(n), n;
}
function N(_) {
  return _.children;
}
function W(_, e) {
  this.props = _, this.context = e;
}
function A(_, e) {
  if (e == null) return _.__ ? A(_.__, _.__i + 1) : null;
  for (var t; e < _.__k.length; e++) if ((t = _.__k[e]) != null && t.__e != null) return t.__e;
  return typeof _.type == "function" ? A(_) : null;
}
function We(_) {
  if (_.__P && _.__d) {
    var e = _.__v, t = e.__e, o = [], i = [], n = C({}, e);
    n.__v = e.__v + 1,
      p.vnode && p.vnode(n),
      Y(
        _.__P,
        n,
        e,
        _.__n,
        _.__P.namespaceURI,
        32 & e.__u ? [t] : null,
        o,
        t ?? A(e),
        !!(32 & e.__u),
        i,
      ),
      n.__v = e.__v,
      n.__.__k[n.__i] = n,
      ge(o, n, i),
      e.__e = e.__ = null,
      n.__e != t && de(n);
  }
}
function de(_) {
  if ((_ = _.__) != null && _.__c != null) {
    return _.__e = _.__c.base = null,
      _.__k.some(function (e) {
        if (e != null && e.__e != null) return _.__e = _.__c.base = e.__e;
      }),
      de(_);
  }
}
function ue(_) {
  (!_.__d && (_.__d = !0) && S.push(_) && !R.__r++ || le != p.debounceRendering) &&
    ((le = p.debounceRendering) || fe)(R);
}
function R() {
  try {
    for (var _, e = 1; S.length;) S.length > e && S.sort(pe), _ = S.shift(), e = S.length, We(_);
  } finally {
    S.length = R.__r = 0;
  }
}
function ve(_, e, t, o, i, n, l, s, a, u, f) {
  var d, r, c, v, k, b, g = o && o.__k || q, h = e.length;
  for (a = Ie(t, e, g, a, h), d = 0; d < h; d++) {
    (c = t.__k[d]) != null &&
      (r = c.__i != -1 && g[c.__i] || I,
        c.__i = d,
        b = Y(_, c, r, i, n, l, s, a, u, f),
        v = c.__e,
        c.ref && r.ref != c.ref && (r.ref && ee(r.ref, null, c), f.push(c.ref, c.__c || v, c)),
        k == null && v != null && (k = v),
        4 & c.__u
          ? (a = me(c, a, _), r.__e && (r.__e = null))
          : typeof c.type == "function" && b !== void 0
          ? a = b
          : v && (a = v.nextSibling),
        c.__u &= -7);
  }
  return t.__e = k, a;
}
function Ie(_, e, t, o, i) {
  var n, l, s, a, u, f = t.length, d = f, r = 0;
  for (_.__k = new Array(i), n = 0; n < i; n++) {
    (l = e[n]) != null && typeof l != "boolean" && typeof l != "function"
      ? (typeof l == "string" || typeof l == "number" || typeof l == "bigint" ||
          l.constructor == String
        ? l = _.__k[n] = M(null, l, null, null, null)
        : V(l)
        ? l = _.__k[n] = M(N, { children: l }, null, null, null)
        : l.constructor === void 0 && l.__b > 0
        ? l = _.__k[n] = M(l.type, l.props, l.key, l.ref ? l.ref : null, l.__v)
        : _.__k[n] = l,
        a = n + r,
        l.__ = _,
        l.__b = _.__b + 1,
        s = null,
        (u = l.__i = qe(l, t, a, d)) != -1 && (d--, (s = t[u]) && (s.__u |= 2)),
        s == null || s.__v == null
          ? (u == -1 && (i > f ? r-- : i < f && r++), typeof l.type != "function" && (l.__u |= 4))
          : u != a && (u == a - 1 ? r-- : u == a + 1 ? r++ : (u > a ? r-- : r++, l.__u |= 4)))
      : _.__k[n] = null;
  }
  if (d) {
    for (n = 0; n < f; n++) {
      (s = t[n]) != null && (2 & s.__u) == 0 && (s.__e == o && (o = A(s)), ke(s, s));
    }
  }
  return o;
}
function me(_, e, t) {
  var o, i;
  if (typeof _.type == "function") {
    for (o = _.__k, i = 0; o && i < o.length; i++) o[i] && (o[i].__ = _, e = me(o[i], e, t));
    return e;
  }
  _.__e != e && (e && _.type && !e.parentNode && (e = A(_)), e = t.insertBefore(_.__e, e || null));
  do e = e && e.nextSibling; while (e != null && e.nodeType == 8);
  return e;
}
function qe(_, e, t, o) {
  var i, n, l, s = _.key, a = _.type, u = e[t], f = u != null && (2 & u.__u) == 0;
  if (u === null && s == null || f && s == u.key && a == u.type) return t;
  if (o > (f ? 1 : 0)) {
    for (i = t - 1, n = t + 1; i >= 0 || n < e.length;) {
      if (
        (u = e[l = i >= 0 ? i-- : n++]) != null && (2 & u.__u) == 0 && s == u.key && a == u.type
      ) return l;
    }
  }
  return -1;
}
function se(_, e, t) {
  e[0] == "-"
    ? _.setProperty(e, t ?? "")
    : _[e] = t == null ? "" : typeof t != "number" || Me.test(e) ? t : t + "px";
}
function F(_, e, t, o, i) {
  var n, l;
  e: if (e == "style") {
    if (typeof t == "string") _.style.cssText = t;
    else {
      if (typeof o == "string" && (_.style.cssText = o = ""), o) {
        for (e in o) t && e in t || se(_.style, e, "");
      }
      if (t) { for (e in t) o && t[e] == o[e] || se(_.style, e, t[e]); }
    }
  } else if (e[0] == "o" && e[1] == "n") {
    n = e != (e = e.replace(he, "$1")),
      l = e.toLowerCase(),
      e = l in _ || e == "onFocusOut" || e == "onFocusIn" ? l.slice(2) : e.slice(2),
      _.l || (_.l = {}),
      _.l[e + n] = t,
      t
        ? o ? t[E] = o[E] : (t[E] = K, _.addEventListener(e, n ? G : J, n))
        : _.removeEventListener(e, n ? G : J, n);
  } else {
    if (i == "http://www.w3.org/2000/svg") e = e.replace(/xlink(H|:h)/, "h").replace(/sName$/, "s");
    else if (
      e != "width" && e != "height" && e != "href" && e != "list" && e != "form" &&
      e != "tabIndex" && e != "download" && e != "rowSpan" && e != "colSpan" && e != "role" &&
      e != "popover" && e in _
    ) {
      try {
        _[e] = t ?? "";
        break e;
      } catch {}
    }
    typeof t == "function" ||
      (t == null || t === !1 && e[4] != "-"
        ? _.removeAttribute(e)
        : _.setAttribute(e, e == "popover" && t == 1 ? "" : t));
  }
}
function ce(_) {
  return function (e) {
    if (this.l) {
      var t = this.l[e.type + _];
      if (e[L] == null) e[L] = K++;
      else if (e[L] < t[E]) return;
      return t(p.event ? p.event(e) : e);
    }
  };
}
function Y(_, e, t, o, i, n, l, s, a, u) {
  var f, d, r, c, v, k, b, g, h, x, U, H, j, ie, T, z, w = e.type;
  if (e.constructor !== void 0) return null;
  128 & t.__u && (a = !!(32 & t.__u), n = [s = e.__e = t.__e]), (f = p.__b) && f(e);
  e: if (typeof w == "function") {
    d = l.length;
    try {
      if (
        h = e.props,
          x = w.prototype && w.prototype.render,
          U = (f = w.contextType) && o[f.__c],
          H = f ? U ? U.props.value : f.__ : o,
          t.__c
            ? g = (r = e.__c = t.__c).__ = r.__E
            : (x
              ? e.__c = r = new w(h, H)
              : (e.__c = r = new W(h, H), r.constructor = w, r.render = Oe),
              U && U.sub(r),
              r.state || (r.state = {}),
              r.__n = o,
              c = r.__d = !0,
              r.__h = [],
              r._sb = []),
          x && r.__s == null && (r.__s = r.state),
          x && w.getDerivedStateFromProps != null &&
          (r.__s == r.state && (r.__s = C({}, r.__s)),
            C(r.__s, w.getDerivedStateFromProps(h, r.__s))),
          v = r.props,
          k = r.state,
          r.__v = e,
          c
      ) {
        x && w.getDerivedStateFromProps == null && r.componentWillMount != null &&
        r.componentWillMount(), x && r.componentDidMount != null && r.__h.push(r.componentDidMount);
      } else {
        if (
          x && w.getDerivedStateFromProps == null && h !== v &&
          r.componentWillReceiveProps != null && r.componentWillReceiveProps(h, H),
            e.__v == t.__v ||
            !r.__e && r.shouldComponentUpdate != null && r.shouldComponentUpdate(h, r.__s, H) === !1
        ) {
          e.__v != t.__v && (r.props = h, r.state = r.__s, r.__d = !1),
            e.__e = t.__e,
            e.__k = t.__k,
            e.__k.some(function (D) {
              D && (D.__ = e);
            }),
            q.push.apply(r.__h, r._sb),
            r._sb = [],
            r.__h.length && l.push(r),
            s = A(t);
          break e;
        }
        r.componentWillUpdate != null && r.componentWillUpdate(h, r.__s, H),
          x && r.componentDidUpdate != null && r.__h.push(function () {
            r.componentDidUpdate(v, k, b);
          });
      }
      if (r.context = H, r.props = h, r.__P = _, r.__e = !1, j = p.__r, ie = 0, x) {
        r.state = r.__s,
          r.__d = !1,
          j && j(e),
          f = r.render(r.props, r.state, r.context),
          q.push.apply(r.__h, r._sb),
          r._sb = [];
      } else {do r.__d = !1,
          j && j(e),
          f = r.render(r.props, r.state, r.context),
          r.state = r.__s; while (r.__d && ++ie < 25);}
      r.state = r.__s,
        r.getChildContext != null && (o = C(C({}, o), r.getChildContext())),
        x && !c && r.getSnapshotBeforeUpdate != null && (b = r.getSnapshotBeforeUpdate(v, k)),
        T = f != null && f.type === N && f.key == null ? be(f.props.children) : f,
        s = ve(_, V(T) ? T : [T], e, t, o, i, n, l, s, a, u),
        r.base = e.__e,
        e.__u &= -161,
        r.__h.length && l.push(r),
        g && (r.__E = r.__ = null);
    } catch (D) {
      if (l.length = d, e.__v = null, a || n != null) {
        if (D.then) {
          for (e.__u |= a ? 160 : 128; s && s.nodeType == 8 && s.nextSibling;) s = s.nextSibling;
          n != null && (n[n.indexOf(s)] = null), e.__e = s;
        } else if (n != null) { for (z = n.length; z--;) X(n[z]); }
      } else e.__e = t.__e;
      e.__k == null && (e.__k = t.__k || []), D.then || ye(e), p.__e(D, e, t);
    }
  } else {n == null && e.__v == t.__v
      ? (e.__k = t.__k, e.__e = t.__e)
      : s = e.__e = Re(t.__e, e, t, o, i, n, l, a, u);}
  return (f = p.diffed) && f(e), 128 & e.__u ? void 0 : s;
}
function ye(_) {
  _ && (_.__c && (_.__c.__e = !0), _.__k && _.__k.some(ye));
}
function ge(_, e, t) {
  for (var o = 0; o < t.length; o++) ee(t[o], t[++o], t[++o]);
  p.__c && p.__c(e, _),
    _.some(function (i) {
      try {
        _ = i.__h,
          i.__h = [],
          _.some(function (n) {
            n.call(i);
          });
      } catch (n) {
        p.__e(n, i.__v);
      }
    });
}
function be(_) {
  return typeof _ != "object" || _ == null || _.__b > 0
    ? _
    : V(_)
    ? _.map(be)
    : _.constructor !== void 0
    ? null
    : C({}, _);
}
function Re(_, e, t, o, i, n, l, s, a) {
  var u, f, d, r, c, v, k, b = t.props || I, g = e.props, h = e.type;
  if (
    h == "svg"
      ? i = "http://www.w3.org/2000/svg"
      : h == "math"
      ? i = "http://www.w3.org/1998/Math/MathML"
      : i || (i = "http://www.w3.org/1999/xhtml"), n != null
  ) {
    for (u = 0; u < n.length; u++) {
      if ((c = n[u]) && "setAttribute" in c == !!h && (h ? c.localName == h : c.nodeType == 3)) {
        _ = c, n[u] = null;
        break;
      }
    }
  }
  if (_ == null) {
    if (h == null) return document.createTextNode(g);
    _ = document.createElementNS(i, h, g.is && g), s && (p.__m && p.__m(e, n), s = !1), n = null;
  }
  if (h == null) b === g || s && _.data == g || (_.data = g);
  else {
    if (
      n = h == "textarea" && g.defaultValue != null ? null : n && O.call(_.childNodes),
        !s && n != null
    ) { for (b = {}, u = 0; u < _.attributes.length; u++) b[(c = _.attributes[u]).name] = c.value; }
    for (u in b) {
      c = b[u],
        u == "dangerouslySetInnerHTML"
          ? d = c
          : u == "children" || u in g || u == "value" && "defaultValue" in g ||
            u == "checked" && "defaultChecked" in g || F(_, u, null, c, i);
    }
    for (u in g) {
      c = g[u],
        u == "children"
          ? r = c
          : u == "dangerouslySetInnerHTML"
          ? f = c
          : u == "value"
          ? v = c
          : u == "checked"
          ? k = c
          : s && typeof c != "function" || b[u] === c || F(_, u, c, b[u], i);
    }
    if (f) {
      s || d && (f.__html == d.__html || f.__html == _.innerHTML) || (_.innerHTML = f.__html),
        e.__k = [];
    } else if (
      d && (_.innerHTML = ""),
        ve(
          e.type == "template" ? _.content : _,
          V(r) ? r : [r],
          e,
          t,
          o,
          h == "foreignObject" ? "http://www.w3.org/1999/xhtml" : i,
          n,
          l,
          n ? n[0] : t.__k && A(t, 0),
          s,
          a,
        ),
        n != null
    ) { for (u = n.length; u--;) X(n[u]); }
    s && h != "textarea" ||
      (u = "value",
        h == "progress" && v == null
          ? _.removeAttribute("value")
          : v != null && (v !== _[u] || h == "progress" && !v || h == "option" && v != b[u]) &&
            F(_, u, v, b[u], i),
        u = "checked",
        k != null && k != _[u] && F(_, u, k, b[u], i));
  }
  return _;
}
function ee(_, e, t) {
  try {
    if (typeof _ == "function") {
      var o = typeof _.__u == "function";
      o && _.__u(), o && e == null || (_.__u = _(e));
    } else _.current = e;
  } catch (i) {
    p.__e(i, t);
  }
}
function ke(_, e, t) {
  var o, i;
  if (
    p.unmount && p.unmount(_),
      (o = _.ref) && (o.current && o.current != _.__e || ee(o, null, e)),
      (o = _.__c) != null
  ) {
    if (o.componentWillUnmount) {
      try {
        o.componentWillUnmount();
      } catch (n) {
        p.__e(n, e);
      }
    }
    o.base = o.__P = o.__n = null;
  }
  if (o = _.__k) {
    for (i = 0; i < o.length; i++) o[i] && ke(o[i], e, t || typeof _.type != "function");
  }
  t || X(_.__e), _.__c = _.__ = _.__e = void 0;
}
function Oe(_, e, t) {
  return this.constructor(_, t);
}
function Ve(_, e, t) {
  var o, i, n, l;
  e == document && (e = document.documentElement),
    p.__ && p.__(_, e),
    i = (o = typeof t == "function") ? null : t && t.__k || e.__k,
    n = [],
    l = [],
    Y(
      e,
      _ = (!o && t || e).__k = Z(N, null, [_]),
      i || I,
      I,
      e.namespaceURI,
      !o && t ? [t] : i ? null : e.firstChild ? O.call(e.childNodes) : null,
      n,
      !o && t ? t : i ? i.__e : e.firstChild,
      o,
      l,
    ),
    ge(n, _, l),
    _.props.children = null;
}
function _e(_, e) {
  Ve(_, e, _e);
}
O = q.slice,
  p = {
    __e: function (_, e, t, o) {
      for (var i, n, l; e = e.__;) {
        if ((i = e.__c) && !i.__) {
          try {
            if (
              (n = i.constructor) && n.getDerivedStateFromError != null &&
              (i.setState(n.getDerivedStateFromError(_)), l = i.__d),
                i.componentDidCatch != null && (i.componentDidCatch(_, o || {}), l = i.__d),
                l
            ) return i.__E = i;
          } catch (s) {
            _ = s;
          }
        }
      }
      throw _;
    },
  },
  ae = 0,
  Fe = function (_) {
    return _ != null && _.constructor === void 0;
  },
  W.prototype.setState = function (_, e) {
    var t;
    t = this.__s != null && this.__s != this.state ? this.__s : this.__s = C({}, this.state),
      typeof _ == "function" && (_ = _(C({}, t), this.props)),
      _ && C(t, _),
      _ != null && this.__v && (e && this._sb.push(e), ue(this));
  },
  W.prototype.forceUpdate = function (_) {
    this.__v && (this.__e = !0, _ && this.__h.push(_), ue(this));
  },
  W.prototype.render = N,
  S = [],
  fe = typeof Promise == "function" ? Promise.prototype.then.bind(Promise.resolve()) : setTimeout,
  pe = function (_, e) {
    return _.__v.__b - e.__v.__b;
  },
  R.__r = 0,
  Q = Math.random().toString(8),
  L = "__d" + Q,
  E = "__a" + Q,
  he = /(PointerCapture)$|Capture$/i,
  K = 0,
  J = ce(!1),
  G = ce(!0),
  Le = 0;
var $e = 0, Ye = Array.isArray;
function P(_, e, t, o, i, n) {
  e || (e = {});
  var l, s, a = e;
  if ("ref" in a) { for (s in a = {}, e) s == "ref" ? l = e[s] : a[s] = e[s]; }
  var u = {
    type: _,
    props: a,
    key: t,
    ref: l,
    __k: null,
    __: null,
    __b: 0,
    __e: null,
    __c: null,
    constructor: void 0,
    __v: --$e,
    __i: -1,
    __u: 0,
    __source: i,
    __self: n,
  };
  if (typeof _ == "function" && (l = _.defaultProps)) {
    for (s in l) a[s] === void 0 && (a[s] = l[s]);
  }
  return p.vnode && p.vnode(u), u;
}
var B,
  m,
  te,
  xe,
  ne = 0,
  Ne = [],
  y = p,
  we = y.__b,
  Ce = y.__r,
  Se = y.diffed,
  Pe = y.__c,
  He = y.unmount,
  Ae = y.__;
function Ue(_, e) {
  y.__h && y.__h(m, _, ne || e), ne = 0;
  var t = m.__H || (m.__H = { __: [], __h: [] });
  return _ >= t.__.length && t.__.push({}), t.__[_];
}
function oe(_) {
  return ne = 1, Be(Ee, _);
}
function Be(_, e, t) {
  var o = Ue(B++, 2);
  if (
    o.t = _,
      !o.__c && (o.__ = [t ? t(e) : Ee(void 0, e), function (s) {
        var a = o.__N ? o.__N[0] : o.__[0], u = o.t(a, s);
        a !== u && (o.__N = [u, o.__[1]], o.__c.setState({}));
      }],
        o.__c = m,
        !m.__f)
  ) {
    var i = function (s, a, u) {
      if (!o.__c.__H) return !0;
      var f = !1, d = o.__c.props !== s;
      if (
        o.__c.__H.__.some(function (c) {
          if (c.__N) {
            f = !0;
            var v = c.__[0];
            c.__ = c.__N, c.__N = void 0, v !== c.__[0] && (d = !0);
          }
        }), n
      ) {
        var r = n.call(this, s, a, u);
        return f ? r || d : r;
      }
      return !f || d;
    };
    m.__f = !0;
    var n = m.shouldComponentUpdate, l = m.componentWillUpdate;
    m.componentWillUpdate = function (s, a, u) {
      if (this.__e) {
        var f = n;
        n = void 0, i(s, a, u), n = f;
      }
      l && l.call(this, s, a, u);
    }, m.shouldComponentUpdate = i;
  }
  return o.__N || o.__;
}
function je(_, e) {
  var t = Ue(B++, 3);
  !y.__s && Je(t.__H, e) && (t.__ = _, t.u = e, m.__H.__h.push(t));
}
function ze() {
  for (var _; _ = Ne.shift();) {
    var e = _.__H;
    if (_.__P && e) {
      try {
        e.__h.some($), e.__h.some(re), e.__h = [];
      } catch (t) {
        e.__h = [], y.__e(t, _.__v);
      }
    }
  }
}
y.__b = function (_) {
  m = null, we && we(_);
},
  y.__ = function (_, e) {
    _ && e.__k && e.__k.__m && (_.__m = e.__k.__m), Ae && Ae(_, e);
  },
  y.__r = function (_) {
    Ce && Ce(_), B = 0;
    var e = (m = _.__c).__H;
    e && (te === m
      ? (e.__h = [],
        m.__h = [],
        e.__.some(function (t) {
          t.__N && (t.__ = t.__N), t.u = t.__N = void 0;
        }))
      : (e.__h.some($), e.__h.some(re), e.__h = [], B = 0)), te = m;
  },
  y.diffed = function (_) {
    Se && Se(_);
    var e = _.__c;
    e && e.__H &&
    (e.__H.__h.length &&
      (Ne.push(e) !== 1 && xe === y.requestAnimationFrame ||
        ((xe = y.requestAnimationFrame) || Qe)(ze)),
      e.__H.__.some(function (t) {
        t.u && (t.__H = t.u, t.u = void 0);
      })), te = m = null;
  },
  y.__c = function (_, e) {
    e.some(function (t) {
      try {
        t.__h.some($),
          t.__h = t.__h.filter(function (o) {
            return !o.__ || re(o);
          });
      } catch (o) {
        e.some(function (i) {
          i.__h && (i.__h = []);
        }),
          e = [],
          y.__e(o, t.__v);
      }
    }), Pe && Pe(_, e);
  },
  y.unmount = function (_) {
    He && He(_);
    var e, t = _.__c;
    t && t.__H && (t.__H.__.some(function (o) {
      try {
        $(o);
      } catch (i) {
        e = i;
      }
    }),
      t.__H = void 0,
      e && y.__e(e, t.__v));
  };
var De = typeof requestAnimationFrame == "function";
function Qe(_) {
  var e,
    t = function () {
      clearTimeout(o), De && cancelAnimationFrame(e), setTimeout(_);
    },
    o = setTimeout(t, 35);
  De && (e = requestAnimationFrame(t));
}
function $(_) {
  var e = m, t = _.__c;
  typeof t == "function" && (_.__c = void 0, t()), m = e;
}
function re(_) {
  var e = m;
  _.__c = _.__(), m = e;
}
function Je(_, e) {
  return !_ || _.length !== e.length || e.some(function (t, o) {
    return t !== _[o];
  });
}
function Ee(_, e) {
  return typeof e == "function" ? e(_) : e;
}
var Ge = {
  queued: "Queued",
  deferred: "Deferred",
  in_flight_units: "In flight",
  delivered: "Delivered",
  failed: "Failed",
};
function Te(_) {
  let [e, t] = oe(_.initial), [o, i] = oe(!1);
  return je(() => {
    let n = !1,
      l = async () => {
        try {
          let a = await fetch("/api/v1/queue", { credentials: "same-origin" });
          a.ok && !n && (t(await a.json()), i(!0));
        } catch {
          n || i(!1);
        }
      },
      s = setInterval(l, _.refreshMs ?? 2e3);
    return l(), () => {
      n = !0, clearInterval(s);
    };
  }, []),
    P("div", {
      children: [
        P("div", {
          class: "grid grid-cols-5 gap-4",
          children: Object.entries(Ge).map(([n, l]) =>
            P("div", {
              class: "bg-white shadow rounded p-4",
              children: [
                P("div", { class: "text-sm text-gray-500", children: l }),
                P("div", { class: "text-2xl font-bold", "data-count": n, children: e[n] ?? 0 }),
              ],
            })
          ),
        }),
        P("p", {
          class: "text-xs text-gray-400 mt-2",
          "data-live": o ? "yes" : "no",
          children: o ? "Live" : "Snapshot",
        }),
      ],
    });
}
var Ke = { QueueCounts: Te };
for (let _ of document.querySelectorAll("[data-island]")) {
  let e = Ke[_.dataset.island ?? ""];
  if (!e) continue;
  let t = JSON.parse(_.dataset.props ?? "{}");
  _e(Z(e, t), _);
}
