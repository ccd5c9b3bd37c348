// The UI toolkit in one place: Preact components written with htm tagged templates
// (plain JavaScript, no JSX build). htm builds elements, never HTML strings, so text in
// a template is always text: a message body can never become markup.
import { h, render, Fragment, createContext } from "./vendor/preact.js";
import {
  useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useContext, useReducer,
} from "./vendor/preact-hooks.js";
import htm from "./vendor/htm.js";

export const html = htm.bind(h);
export {
  h, render, Fragment, createContext,
  useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useContext, useReducer,
};
