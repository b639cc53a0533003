/** The service and profile type pickers of a query bar. */
import type { ProfileType } from "../../api/types.ts";

/** "process_cpu · cpu (nanoseconds)": the name, the sample type and its unit. */
export function profileTypeLabel(type: ProfileType): string {
  return `${type.name} · ${type.sampleType}${type.sampleUnit === "" ? "" : ` (${type.sampleUnit})`}`;
}

export function ServicePicker(props: {
  services: string[];
  value: string;
  onChange: (service: string) => void;
}) {
  const options =
    props.value !== "" && !props.services.includes(props.value)
      ? [props.value, ...props.services]
      : props.services;
  return (
    <label class="picker">
      <span class="picker-label">Service</span>
      <select
        data-testid="service-picker"
        value={props.value}
        onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
      >
        <option value="">All services</option>
        {options.map((service) => (
          <option key={service} value={service}>
            {service}
          </option>
        ))}
      </select>
    </label>
  );
}

export function ProfileTypePicker(props: {
  types: ProfileType[];
  value: string;
  onChange: (profileTypeId: string) => void;
}) {
  const known = props.types.some((t) => t.id === props.value);
  return (
    <label class="picker">
      <span class="picker-label">Profile type</span>
      <select
        data-testid="profile-type-picker"
        value={props.value}
        onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}
      >
        {known || props.value === "" ? null : <option value={props.value}>{props.value}</option>}
        {props.types.length === 0 && props.value === "" ? <option value="">No profile types</option> : null}
        {props.types.map((type) => (
          <option key={type.id} value={type.id} title={type.id}>
            {profileTypeLabel(type)}
          </option>
        ))}
      </select>
    </label>
  );
}
