(function () {
  const svg = document.getElementById('map');
  const tip = document.getElementById('tip');
  const NS = 'http://www.w3.org/2000/svg';
  const S = 1e4;
  const groups = {};
  let box = null;
  const drawn = {};
  document.querySelectorAll('script[type="application/json"]').forEach(function (el) {
    const name = el.id.replace('layer-', '');
    const feats = JSON.parse(el.textContent);
    const g = document.createElementNS(NS, 'g');
    g.setAttribute('data-layer', name);
    g.setAttribute('fill-rule', 'evenodd');
    let n = 0;
    feats.forEach(function (f) {
      if (f.rings.length === 0) return;
      let d = '';
      f.rings.forEach(function (r) {
        for (let i = 0; i < r.length; i += 2) {
          const x = r[i] / S, y = r[i + 1] / S;
          d += (i === 0 ? 'M' : 'L') + x.toFixed(4) + " " + (-y).toFixed(4);
          if (!box) box = [x, y, x, y];
          box[0] = Math.min(box[0], x); box[1] = Math.min(box[1], y);
          box[2] = Math.max(box[2], x); box[3] = Math.max(box[3], y);
        }
        d += 'Z';
      });
      const p = document.createElementNS(NS, 'path');
      p.setAttribute('d', d);
      p.setAttribute('fill', f.fill);
      p.setAttribute('data-code', f.code);
      p.addEventListener('mousemove', function (e) {
        tip.style.display = 'block';
        tip.style.left = (e.clientX + 12) + 'px';
        tip.style.top = (e.clientY + 12) + 'px';
        tip.textContent = f.name + ' — ' + f.value;
      });
      p.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
      g.appendChild(p);
      n += 1;
    });
    drawn[name] = n;
    groups[name] = g;
    svg.appendChild(g);
  });
  if (!box) return;
  const k = Math.cos((box[1] + box[3]) / 2 * Math.PI / 180);
  Object.values(groups).forEach(function (g) {
    g.setAttribute('transform', 'scale(' + k + ',1)');
    g.setAttribute('stroke', '#ffffff');
    g.setAttribute('stroke-width', '0.002');
  });
  let vb = [box[0] * k, -box[3], (box[2] - box[0]) * k, box[3] - box[1]];
  const setView = function () { svg.setAttribute('viewBox', vb.join(' ')); };
  setView();
  const show = function (name) {
    Object.keys(groups).forEach(function (n) { groups[n].style.display = n === name ? '' : 'none'; });
    document.getElementById('status').textContent = name + ': ' + drawn[name];
  };
  document.querySelectorAll('button[data-layer]').forEach(function (b) {
    b.addEventListener('click', function () { show(b.getAttribute('data-layer')); });
  });
  const names = Object.keys(groups);
  show(names.length > 1 ? names[1] : names[0]);
  svg.addEventListener('wheel', function (e) {
    e.preventDefault();
    const f = e.deltaY > 0 ? 1.2 : 1 / 1.2;
    const r = svg.getBoundingClientRect();
    const cx = vb[0] + (e.clientX - r.left) / r.width * vb[2];
    const cy = vb[1] + (e.clientY - r.top) / r.height * vb[3];
    vb = [cx - (cx - vb[0]) * f, cy - (cy - vb[1]) * f, vb[2] * f, vb[3] * f];
    setView();
  }, { passive: false });
  let drag = null;
  svg.addEventListener('mousedown', function (e) { drag = [e.clientX, e.clientY]; });
  window.addEventListener('mouseup', function () { drag = null; });
  window.addEventListener('mousemove', function (e) {
    if (!drag) return;
    const r = svg.getBoundingClientRect();
    vb[0] -= (e.clientX - drag[0]) / r.width * vb[2];
    vb[1] -= (e.clientY - drag[1]) / r.height * vb[3];
    drag = [e.clientX, e.clientY];
    setView();
  });
  document.body.setAttribute('data-drawn', JSON.stringify(drawn));
})();