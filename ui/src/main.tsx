/** Entry point of the web UI (built by Vite into ui/dist, served by Kiln at `/`). */
import "uplot/dist/uPlot.min.css";
import "./styles/app.css";
import { render } from "preact";
import { App } from "./app/App.tsx";

render(<App />, document.getElementById("app")!);
