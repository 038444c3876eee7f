// Streamlit's component protocol over postMessage (what streamlit-component-lib
// does, without its Arrow dependency): announce readiness, receive render args,
// send values and the frame height.

type Listener = (args: Record<string, unknown>) => void;

function post(type: string, data: Record<string, unknown> = {}): void {
  window.parent.postMessage({ isStreamlitMessage: true, type, ...data }, "*");
}

export function onRender(listener: Listener): () => void {
  const handler = (event: MessageEvent) => {
    const msg = event.data;
    if (msg && msg.type === "streamlit:render") listener((msg.args ?? {}) as Record<string, unknown>);
  };
  window.addEventListener("message", handler);
  post("streamlit:componentReady", { apiVersion: 1 });
  return () => window.removeEventListener("message", handler);
}

export function setComponentValue(value: unknown): void {
  post("streamlit:setComponentValue", { value, dataType: "json" });
}

export function setFrameHeight(height: number): void {
  post("streamlit:setFrameHeight", { height });
}
