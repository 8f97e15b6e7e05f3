"""FlatFields: serializers on hot paths copy their declared fields without DRF's deep copy.
Each serializer must still get fields of its own, bound to it, that behave as DRF's."""

import pytest
from rest_framework import serializers

from scheduling.api.appointments import AppointmentSerializer, BookingSerializer
from scheduling.api.reference import AvailabilityQuerySerializer
from scheduling.api.serializers import FlatFields

FLAT = [AvailabilityQuerySerializer, BookingSerializer, AppointmentSerializer]


class WithList(FlatFields, serializers.Serializer):
    rooms = serializers.ListField(child=serializers.IntegerField(min_value=1))
    name = serializers.CharField(max_length=3)


def deep_copied(serializer_class: type) -> serializers.Serializer:
    """The same serializer with DRF's own copies."""
    return type("Deep", (serializer_class,), {"get_fields": serializers.Serializer.get_fields})


@pytest.mark.parametrize("serializer_class", [*FLAT, WithList], ids=lambda c: c.__name__)
def test_each_serializer_has_fields_of_its_own_bound_to_it(serializer_class):
    first, second = serializer_class(), serializer_class()

    for name, field in first.fields.items():
        assert field is not second.fields[name]
        assert field is not serializer_class._declared_fields[name]
        assert (field.parent, field.field_name) == (first, name)
        assert second.fields[name].parent is second


def test_a_field_holding_fields_is_copied_with_them():
    first, second = WithList(), WithList()

    assert first.fields["rooms"].child is not second.fields["rooms"].child
    assert first.fields["rooms"].child.parent is first.fields["rooms"]


@pytest.mark.parametrize(
    ("serializer_class", "data"),
    [
        (AvailabilityQuerySerializer, {}),
        (AvailabilityQuerySerializer, {"location": "x", "duration": "0", "date_to": "2027-13-01"}),
        (AvailabilityQuerySerializer, {"location": "", "modality": "phone", "practitioner": "-1"}),
        (BookingSerializer, {}),
        (BookingSerializer, {"location": "1", "start": "tomorrow", "urgent": "yes", "x": 1}),
        (BookingSerializer, {"patient": True, "duration_minutes": 0, "comment": 5}),
        (WithList, {"rooms": [0, "a"], "name": "long"}),
    ],
)
def test_refusals_are_those_of_drfs_own_copies(serializer_class, data):
    flat = serializer_class(data=data, context={"request": None})
    deep = deep_copied(serializer_class)(data=data, context={"request": None})

    assert not flat.is_valid()
    assert not deep.is_valid()
    assert flat.errors == deep.errors


def test_a_model_serializer_cannot_take_it():
    with pytest.raises(TypeError, match="plain serializers"):
        type("Wrong", (FlatFields, serializers.ModelSerializer), {})
