/* The geoportal (/mapa): sdi's own WMS as layers and legends, search through the API's CQL2 filters,
   feature info from WMS GetFeatureInfo. Values from the data are always set as text, never as HTML. */
(function () {
  'use strict';
  var cfg, map, overlay, base, city = '', checked = {}, marker = null;

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    return node;
  }
  function both(o) { return o.pl === o.en ? o.pl : o.pl + ' / ' + o.en; }
  function wms() { return city ? '/wms/' + city : '/wms'; }
  function title(theme) {
    var found = null;
    cfg.groups.forEach(function (g) { g.layers.forEach(function (l) { if (l.name === theme) found = l; }); });
    return found ? both(found) : theme;
  }

  // WMS LAYERS draw the first at the bottom: groups bottom-up, polygons before lines before points.
  function drawOrder() {
    var names = [];
    cfg.groups.slice().reverse().forEach(function (g) {
      g.layers.slice().reverse().forEach(function (l) { if (checked[l.name]) names.push(l.name); });
    });
    return names;
  }
  function redraw() {
    var names = drawOrder();
    if (overlay) map.removeLayer(overlay);
    overlay = null;
    if (names.length) {
      overlay = L.tileLayer.wms(wms(), {layers: names.join(','), format: 'image/png', transparent: true,
                                        version: '1.3.0', maxZoom: 22, tileSize: 512, zoomOffset: -1});
      overlay.addTo(map);
    }
  }

  function panel() {
    var box = document.getElementById('gp-layers');
    cfg.groups.forEach(function (g) {
      box.appendChild(el('h3', both(g)));
      g.layers.forEach(function (l) {
        checked[l.name] = true;
        var id = 'gp-layer-' + l.name, row = el('div', null, {'class': 'form-check'});
        var input = el('input', null, {type: 'checkbox', id: id, 'class': 'form-check-input', checked: 'checked',
                                       'data-layer': l.name});
        input.addEventListener('change', function () { checked[l.name] = input.checked; redraw(); });
        row.appendChild(input);
        row.appendChild(el('label', both(l), {'for': id, 'class': 'form-check-label'}));
        box.appendChild(row);
        legend(box, l);
      });
    });
  }

  // The legend is the WMS's own (GetLegendGraphic as JSON): the theme's QGIS symbols, with labels that wrap.
  function legend(box, l) {
    var list = el('ul', null, {'class': 'gp-legend', 'data-legend': l.name, 'aria-label': 'Legenda / Legend: ' + both(l)});
    box.appendChild(list);
    fetch('/wms?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetLegendGraphic&FORMAT=application/json&LAYER='
          + encodeURIComponent(l.name)).then(function (r) { return r.json(); }).then(function (doc) {
      (doc.nodes || []).forEach(function (node) {
        (node.symbols || [node]).forEach(function (sym) {
          var li = el('li');
          if (sym.icon) li.appendChild(el('img', null, {src: 'data:image/png;base64,' + sym.icon, alt: ''}));
          li.appendChild(el('span', sym.title || ''));
          list.appendChild(li);
        });
      });
    }).catch(function (err) { console.warn('legend:', err); });
  }

  function value(theme, field, v) {
    var label = (cfg.labels[theme] || {})[field];
    if (label && label.codes && label.codes[v]) return both(label.codes[v]);
    if (v === true) return 'tak / yes';
    if (v === false) return 'nie / no';
    return v;
  }
  function heading(theme, p) {
    if (p.name) return p.name;
    if (p.street) return p.street + (p.house_number ? ' ' + p.house_number : '');
    return title(theme);
  }
  function show(theme, props) {
    var info = document.getElementById('gp-info'), body = info.querySelector('div');
    body.textContent = '';
    body.appendChild(el('h3', heading(theme, props)));
    body.appendChild(el('p', title(theme), {'class': 'text-muted'}));
    var table = el('table', null, {'class': 'table table-sm'});
    Object.keys(props).forEach(function (k) {
      var v = props[k];
      if (cfg.hidden.indexOf(k) >= 0 || k === 'fid' || v === null || v === '' || v === 'NULL') return;
      var label = (cfg.labels[theme] || {})[k], tr = el('tr');
      tr.appendChild(el('th', label ? both(label) : (k === 'city' ? 'Gmina (TERYT) / Municipality' : k)));
      tr.appendChild(el('td', value(theme, k, v)));
      table.appendChild(tr);
    });
    body.appendChild(table);
    if (props.fid !== undefined && props.fid !== null) {
      body.appendChild(el('a', 'Obiekt w API / Feature in the API',
                          {href: '/collections/' + encodeURIComponent(theme) + '/items/' + encodeURIComponent(props.fid)}));
    }
    info.hidden = false;
  }

  function featureInfo(e) {
    var names = drawOrder().reverse();
    if (!names.length) return;
    var size = map.getSize(), b = map.getBounds(), crs = map.options.crs;
    var sw = crs.project(b.getSouthWest()), ne = crs.project(b.getNorthEast());
    var p = map.latLngToContainerPoint(e.latlng).round();
    var q = {SERVICE: 'WMS', VERSION: '1.3.0', REQUEST: 'GetFeatureInfo', CRS: 'EPSG:3857', STYLES: '',
             BBOX: [sw.x, sw.y, ne.x, ne.y].join(','), WIDTH: size.x, HEIGHT: size.y, I: p.x, J: p.y,
             LAYERS: names.join(','), QUERY_LAYERS: names.join(','), INFO_FORMAT: 'application/json',
             FEATURE_COUNT: 1, FI_POINT_TOLERANCE: 10, FI_LINE_TOLERANCE: 6, FI_POLYGON_TOLERANCE: 2};
    var url = wms() + '?' + Object.keys(q).map(function (k) { return k + '=' + encodeURIComponent(q[k]); }).join('&');
    fetch(url).then(function (r) { return r.json(); }).then(function (fc) {
      var f = (fc.features || [])[0];
      if (!f) return;
      var theme = String(f.id || '').replace(/\.[^.]*$/, '');
      show(theme, f.properties || {});
    }).catch(function (err) { console.warn('feature info:', err); });
  }

  // The API wants a LIKE pattern as a plain literal: fold it here as ACCENTI(CASEI()) folds the column.
  var FOLD = {'ą': 'a', 'ć': 'c', 'ę': 'e', 'ł': 'l', 'ń': 'n', 'ó': 'o', 'ś': 's', 'ź': 'z', 'ż': 'z'};
  function fold(text) { return text.toLowerCase().replace(/[ąćęłńóśźż]/g, function (c) { return FOLD[c]; }); }
  function cql(text) { return "'" + String(text).replace(/'/g, "''") + "'"; }
  function search(q) {
    var list = document.querySelector('#gp-results ol');
    list.textContent = '';
    document.getElementById('gp-results').hidden = false;
    var m = /^(.*?)[\s,]+(\d+[a-zA-Z]?)$/.exec(q.trim()), words = m ? m[1] : q.trim();
    var asks = cfg.search.map(function (s) {
      var f = 'ACCENTI(CASEI(' + s.field + ')) LIKE ' + cql('%' + fold(words) + '%');
      if (m && s.theme === 'address_points') f += ' AND house_number = ' + cql(m[2]);
      if (city) f += ' AND city = ' + cql(city);
      var url = '/collections/' + s.theme + '/items?f=json&limit=5&filter-lang=cql2-text&filter=' + encodeURIComponent(f);
      return fetch(url).then(function (r) { return r.ok ? r.json() : {features: []}; })
        .then(function (fc) { return (fc.features || []).map(function (x) { return [s.theme, x]; }); })
        .catch(function () { return []; });
    });
    Promise.all(asks).then(function (parts) {
      var found = [].concat.apply([], parts);
      if (!found.length) list.appendChild(el('li', 'Nic nie znaleziono / Nothing found'));
      found.forEach(function (hit) {
        var li = el('li'), a = el('a', heading(hit[0], hit[1].properties) + ' (' + title(hit[0]) + ')', {href: '#'});
        a.addEventListener('click', function (ev) { ev.preventDefault(); go(hit[0], hit[1]); });
        li.appendChild(a);
        list.appendChild(li);
      });
      if (found.length === 1) go(found[0][0], found[0][1]);
    });
  }
  function go(theme, feature) {
    var shape = L.geoJSON(feature), bounds = shape.getBounds();
    if (marker) map.removeLayer(marker);
    marker = L.circleMarker(bounds.getCenter(), {radius: 12, color: '#d7191c', fill: false}).addTo(map);
    map.fitBounds(bounds, {maxZoom: 18});
    show(theme, Object.assign({fid: feature.id}, feature.properties));
  }

  function cities() {
    var select = document.getElementById('gp-city');
    cfg.cities.forEach(function (c) { select.appendChild(el('option', c.teryt, {value: c.teryt})); });
    select.addEventListener('change', function () {
      city = select.value;
      zoom();
      redraw();
    });
  }
  function zoom() {
    var boxes = cfg.cities.filter(function (c) { return !city || c.teryt === city; });
    if (!boxes.length) return;
    var w = Math.min.apply(null, boxes.map(function (c) { return c.bbox[0]; })),
        s = Math.min.apply(null, boxes.map(function (c) { return c.bbox[1]; })),
        e = Math.max.apply(null, boxes.map(function (c) { return c.bbox[2]; })),
        n = Math.max.apply(null, boxes.map(function (c) { return c.bbox[3]; }));
    map.fitBounds([[s, w], [n, e]]);
  }

  function start(config) {
    cfg = config;
    map = L.map('gp-map', {maxZoom: 22}).setView([52.0, 19.4], 6);
    if (cfg.basemap.url) {
      base = L.tileLayer(cfg.basemap.url, {maxZoom: 19, attribution: cfg.basemap.attribution});
    } else if (cfg.rasters.length) {  // the cities' own orthophoto from the WMS: no internet needed
      base = L.tileLayer.wms('/wms', {layers: cfg.basemap.wms_layers, format: 'image/jpeg', version: '1.3.0',
                                      maxZoom: 22, attribution: cfg.basemap.attribution});
    }
    if (base) base.addTo(map);
    L.control.scale({imperial: false}).addTo(map);
    panel();
    cities();
    var params = new URLSearchParams(location.search);
    if (params.get('city') && cfg.cities.some(function (c) { return c.teryt === params.get('city'); })) {
      city = params.get('city');
      document.getElementById('gp-city').value = city;
    }
    zoom();
    redraw();
    map.on('click', featureInfo);
    document.getElementById('gp-search').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var q = document.getElementById('gp-q').value;
      if (q.trim().length >= 2) search(q);
    });
    if (params.get('q')) { document.getElementById('gp-q').value = params.get('q'); search(params.get('q')); }
    document.body.setAttribute('data-ready', '1');
  }

  fetch('/mapa/config.json').then(function (r) { return r.json(); }).then(start)
    .catch(function (err) { console.error('geoportal config:', err); });
}());
