import { createContext, useContext, useEffect, useState } from "../lib.js";

/** { api, store, sync, config } for every component. */
export const AppContext = createContext(null);

export function useApp() {
  return useContext(AppContext);
}

/** Re-render the calling component whenever the store changes. */
export function useStore() {
  const { store } = useApp();
  const [, setVersion] = useState(store.version);
  useEffect(() => store.subscribe(setVersion), [store]);
  return store;
}

/** The part of the URL after "#", split: "#/c/12" -> ["c", "12"]. */
export function useRoute() {
  const parse = () => window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const onChange = () => setRoute(parse());
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export function navigate(path) {
  window.location.hash = path;
}
