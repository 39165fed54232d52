/* Draws the charts of a page or report: each element with data-figure names a
   <script type="application/json"> holding a Plotly figure ({data, layout}). Charts only:
   the page is complete and readable without this script. */
"use strict";
(function () {
  var config = { displaylogo: false, responsive: true, typesetMath: false };
  function draw() {
    var nodes = document.querySelectorAll("[data-figure]");
    for (var i = 0; i < nodes.length; i++) {
      var node = nodes[i];
      var source = document.getElementById(node.getAttribute("data-figure"));
      if (!source || typeof Plotly === "undefined") { continue; }
      var figure = JSON.parse(source.textContent);
      node.classList.add("drawn");
      Plotly.newPlot(node, figure.data, figure.layout, config);
    }
  }
  function resize() {
    var nodes = document.querySelectorAll(".drawn");
    for (var i = 0; i < nodes.length; i++) { Plotly.Plots.resize(nodes[i]); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
  window.addEventListener("beforeprint", resize);
  window.addEventListener("afterprint", resize);
})();
