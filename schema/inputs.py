"""Native args to strawberry input objects, with the work that depends only on the type
done once per type.

strawberry's `convert_argument` works out, on every call and for every field, the
field's GraphQL name, its resolved type and whether that type is a leaf: 140 us of the
~200 us a `message/send` spent turning its args into a `MessageSendInput`. A converter
compiled per type does the same conversion (same rules: `Maybe`, optional, lists, leaves,
enums, nested inputs, implicit None for nullable fields without a default) from a table.
Anything it does not know (custom `from_input`, lazy or relay types) is handed to
`convert_argument` itself, so the result is always the one strawberry would give;
tests/unit/test_input_converters.py compares the two on every input type.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.scalars import is_scalar
from strawberry.schema.config import StrawberryConfig
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryList, StrawberryMaybe, StrawberryOptional, has_object_definition
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.maybe import Some
from strawberry.types.unset import UNSET

Converter = Callable[[Any], Any]


class InputConverters:
    def __init__(self, scalar_registry: Mapping[Any, Any], config: StrawberryConfig) -> None:
        self.scalar_registry = scalar_registry
        self.config = config
        self._cache: dict[Any, Converter] = {}

    def for_type(self, type_: Any) -> Converter:
        converter = self._cache.get(type_)
        if converter is None:
            converter = self._cache[type_] = self._compile(type_)
        return converter

    def _generic(self, type_: Any) -> Converter:
        registry, config = self.scalar_registry, self.config
        return lambda value: convert_argument(value, type_, registry, config)

    def _is_leaf(self, type_: Any) -> bool:
        return is_scalar(type_, self.scalar_registry) or isinstance(type_, StrawberryEnumDefinition)

    def _compile(self, type_: Any) -> Converter:
        if isinstance(type_, StrawberryMaybe):
            inner = self.for_type(type_.of_type)
            if isinstance(type_.of_type, StrawberryOptional):
                return lambda value: Some(inner(value))
            name = getattr(type_.of_type, "__name__", str(type_.of_type))

            def maybe(value: Any) -> Any:
                if value is None:
                    raise StrawberryInputCoercionError(
                        f"Expected value of type '{name}', found null. "
                        f"Field of type 'Maybe[{name}]' cannot be explicitly set to null. "
                        f"Use 'Maybe[{name} | None]' if you need to allow null values."
                    )
                return Some(inner(value))

            return maybe
        if isinstance(type_, StrawberryOptional):
            return self.for_type(type_.of_type)
        if isinstance(type_, StrawberryList):
            item_type = type_.of_type
            leaf_items = self._is_leaf(item_type) or (
                isinstance(item_type, StrawberryOptional) and self._is_leaf(item_type.of_type)
            )
            if leaf_items:
                # Copied: graphql-core gives every request that omits the value the same default.
                return lambda value: value if value is None or value is UNSET else list(value)
            item = self.for_type(item_type)
            return lambda value: value if value is None or value is UNSET else [item(v) for v in value]
        if self._is_leaf(type_):
            if getattr(type_, "__name__", None) == "GlobalID":
                return self._generic(type_)
            return lambda value: value
        if has_enum_definition(type_):
            return lambda value: value
        if has_object_definition(type_):
            definition = type_.__strawberry_definition__
            if definition.from_input is not None or not definition.is_input:
                return self._generic(type_)
            return self._input_object(type_, definition)
        return self._generic(type_)  # lazy types and anything else: strawberry's own rules

    def _input_object(self, cls: type, definition: Any) -> Converter:
        implicit_none = {
            f.python_name: None
            for f in definition.fields
            if f.default_value is MISSING and f.default_factory is MISSING
        }
        fields: list[tuple[str, str, Converter]] = []
        resolved: list[tuple[str, str, Any]] = [
            (self.config.name_converter.from_field(f), f.python_name, f.resolve_type(type_definition=definition))
            for f in definition.fields
        ]

        def convert(value: Any) -> Any:
            if value is None or value is UNSET:
                return value
            if not fields and resolved:
                # Compiled on first use: input types may refer to each other (or themselves).
                fields.extend((g, p, self.for_type(t)) for g, p, t in resolved)
            kwargs = dict(implicit_none)
            for graphql_name, python_name, field_converter in fields:
                if graphql_name in value:
                    kwargs[python_name] = field_converter(value[graphql_name])
            return cls(**kwargs)

        return convert
